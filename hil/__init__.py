"""diahil HIL: the composition root.

``hil`` wires the emulators (``emulator``), the product under test (``uploader``) and the
mock cloud (``mock_cloud``) together, through the same seams real hardware uses: a pyusb
backend hosting emulated devices, and HTTP to the cloud (in-process through an ASGI
transport, or a real uvicorn server). It provides the pytest plugin (``hil.pytest_plugin``),
the test oracle that compares the cloud with a device's ledger (``hil.oracle``), the demo,
and the ``diahil`` command line.
"""
