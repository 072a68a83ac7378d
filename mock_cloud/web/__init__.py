"""The web UI: server-rendered pages for QA, support and clinicians (no JavaScript, no CDN).

``pages`` serves ``/ui/...``: login, home (own data, patients who shared with the viewer),
a patient's uploads, a daily view (CGM trace, meter readings, boluses, basal) and a report
(ambulatory glucose profile and summary figures). ``day_data`` and ``agp`` compute what
is drawn, ``charts`` draws it as inline SVG, ``session_cookie`` keeps the login.
Templates and the stylesheet ship inside this package.
"""
