"""Migration scripts, one per schema change (see ``mock_cloud.migrations``)."""
