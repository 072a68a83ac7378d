"""Deterministic faults for testing uploaders, and the admin API that drives them.

Mounted only in test mode (``CloudSettings(test_mode=True)``, ``diahil cloud serve
--test-mode``); otherwise the ``/admin/...`` paths do not exist (404). ``spec`` defines a
fault, ``registry`` decides which requests it hits, ``middleware`` applies it and keeps the
request log, ``routes`` is the HTTP API, and ``mock_cloud.faults_client`` is a typed client
for it.
"""

from mock_cloud.faults.registry import FaultRegistry, RequestLog
from mock_cloud.faults.spec import FaultKind, FaultSpec

__all__ = ["FaultKind", "FaultRegistry", "FaultSpec", "RequestLog"]
