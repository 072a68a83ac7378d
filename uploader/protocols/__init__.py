"""Host-side protocol clients, each written from its specification (see module docstrings).

They share test vectors with the emulator's device side (tests/vectors/), never code.
"""
