"""diahil mock cloud: the server side of a Tidepool-compatible cloud API.

``create_app(settings)`` builds the FastAPI app (API, web UI under ``/ui/``, and in test mode
the fault API under ``/admin/``); ``app.state.cloud`` (a ``Cloud``) holds its settings,
database engine, clock, ``create_user`` for test fixtures, and the fault registry.
``mock_cloud.cli`` runs it under uvicorn; ``mock_cloud.faults_client`` drives the fault API
over HTTP. docs/cloud.md describes the service. This package imports nothing else of the
project's: the uploader reaches it only over HTTP.
"""

from mock_cloud.accounts import AccountError, DuplicateEmailError, InvalidAccountError
from mock_cloud.app import create_app
from mock_cloud.cloud import Cloud
from mock_cloud.settings import CloudSettings
from mock_cloud.storage import StorageError

__all__ = [
    "AccountError",
    "Cloud",
    "CloudSettings",
    "DuplicateEmailError",
    "InvalidAccountError",
    "StorageError",
    "create_app",
]
