"""A mock cloud app under a real uvicorn server, in a thread, on 127.0.0.1 and a free port.

For the tests that must cross a real network stack: dropped connections, slow bodies, the
browser. (Uniquely named, like ``mockcloud_helpers``, so it never collides with another
package's test helpers.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI


@contextmanager
def serve(app: FastAPI, timeout_s: float = 10.0, log_level: str = "warning") -> Iterator[str]:
    """Serve ``app`` until the block ends; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level=log_level, lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="mock-cloud-test-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
