"""Normalization: device records (``uploader.records``) to Tidepool datums
(``uploader.datamodel``)."""
