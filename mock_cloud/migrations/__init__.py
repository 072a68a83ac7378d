"""Alembic migrations of the mock cloud's schema, run by the service at startup (``migrate``).

``env.py`` runs them on the connection ``migrate`` hands over; ``versions/`` holds one
script per schema change, oldest first. To add one: write ``versions/NNNN_what.py`` with
``down_revision`` set to the newest existing revision, and update ``tables.py`` to match
(``test_mockcloud_migrations`` fails until both agree).
"""
