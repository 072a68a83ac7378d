"""Datum types of the Tidepool data model, as pydantic models, and their registry.

``DATUM_MODELS`` maps a ``type`` to the model that validates it; see ``registry`` for how to
add a type.
"""

from mock_cloud.datatypes.common import BaseDatum
from mock_cloud.datatypes.registry import (
    DATUM_MODELS,
    SPEC_DATA_TYPES,
    SPEC_SUB_TYPES,
    Variants,
    supported_types,
)

__all__ = [
    "DATUM_MODELS",
    "SPEC_DATA_TYPES",
    "SPEC_SUB_TYPES",
    "BaseDatum",
    "Variants",
    "supported_types",
]
