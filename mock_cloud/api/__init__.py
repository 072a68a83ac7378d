"""HTTP routes of the mock cloud, one module per API area (auth, data sets, data)."""
