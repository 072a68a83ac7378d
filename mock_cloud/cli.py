"""Command line of the mock cloud: ``serve`` (``--test-mode`` mounts the fault API) and
``add-user``.

Mounted by the project CLI as ``diahil cloud ...``; also runs alone as
``python -m mock_cloud.cli``. Operator errors (a bad database URL, a taken email, a port in
use) print one line on stderr and exit with status 1, never a traceback.
"""

from __future__ import annotations

import socket
from typing import Annotated

import typer
import uvicorn

from mock_cloud.accounts import AccountError
from mock_cloud.app import create_app
from mock_cloud.cloud import Cloud
from mock_cloud.settings import DEFAULT_DB_URL, CloudSettings
from mock_cloud.storage import StorageError, safe_url

app = typer.Typer(
    help="The diahil mock cloud: a Tidepool-compatible API server for tests.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        help="Database URL: sqlite:///file.sqlite3, sqlite:// (in memory) or postgresql://...",
    ),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code=1)


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or a one-line reason why not."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, UnicodeError) as error:
        raise _fail(f"cannot listen on {host}:{port}: unknown host ({error})") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        hint = " (is another server using it? choose another --port)" if port else ""
        raise _fail(f"cannot listen on {host}:{port}: {error.strerror or error}{hint}") from None
    return sock


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: any free).")] = 8009,
    db: DbOption = DEFAULT_DB_URL,
    test_mode: Annotated[
        bool,
        typer.Option(
            "--test-mode",
            help="Mount the fault-injection admin API (/admin/...). Never on a shared server.",
        ),
    ] = False,
    show_open_data: Annotated[
        bool,
        typer.Option(
            "--show-open-data",
            help="Show data of normal data sets before they are closed (the platform hides it).",
        ),
    ] = False,
) -> None:
    """Serve the mock cloud over HTTP until interrupted."""
    try:
        web_app = create_app(
            CloudSettings(db_url=db, test_mode=test_mode, hide_open_data=not show_open_data)
        )
    except (StorageError, ValueError) as error:
        raise _fail(str(error)) from None
    sock = _listen(host, port)
    bound_port = sock.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    mode = ", TEST MODE: fault API at /admin/" if test_mode else ""
    typer.echo(
        f"mock cloud serving on http://{url_host}:{bound_port} (database {safe_url(db)}{mode})"
    )
    server = uvicorn.Server(uvicorn.Config(web_app, log_level="warning"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


@app.command("add-user")
def add_user(
    email: Annotated[str, typer.Argument(help="Login email of the new account.")],
    password: Annotated[str, typer.Argument(help="Password: 8 to 72 characters, no spaces.")],
    db: DbOption = DEFAULT_DB_URL,
) -> None:
    """Create an account (email already verified) and print its userid."""
    try:
        cloud = Cloud(CloudSettings(db_url=db))
    except (StorageError, ValueError) as error:
        raise _fail(str(error)) from None
    try:
        userid = cloud.create_user(email, password)
    except AccountError as error:
        raise _fail(str(error)) from None
    finally:
        cloud.close()
    typer.echo(userid)


if __name__ == "__main__":
    app()
