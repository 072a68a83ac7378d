"""The bench rig: its CAN fixture (DBC, controller, emulated fixture), rig.toml and checks."""
