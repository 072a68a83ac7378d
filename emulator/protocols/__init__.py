"""Device-side protocol engines, each written from its specification (see module docstrings)."""
