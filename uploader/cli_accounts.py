"""``diahil account add|list|use|remove``: the cloud accounts ``diahil upload`` uses.

    diahil account add NAME --cloud URL --email EMAIL [--password P]   (else asked, hidden)
    diahil account list [--json]
    diahil account use NAME
    diahil account remove NAME

The password goes to the OS keyring (``uploader.accounts``), never to a file or the
screen. Without a keyring (CI, containers) ``add`` keeps the account and says to set
``DIAHIL_PASSWORD`` for uploads. Errors print one line and exit 2 (docs/exit-codes.md).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from uploader.accounts import Account, AccountStore, forget_password, store_password
from uploader.errors import NoKeyring, UsageError

app = typer.Typer(
    help="Cloud accounts for uploads (passwords in the OS keyring).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _fail(error: UsageError) -> typer.Exit:
    Console(stderr=True).print(f"[bold red]Error[/bold red] {escape(error.user_message())}")
    return typer.Exit(int(error.exit_code))


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="A short name for the account, e.g. home")],
    cloud: Annotated[str, typer.Option("--cloud", help="Cloud base URL")],
    email: Annotated[str, typer.Option("--email")],
    password: Annotated[
        str | None,
        typer.Option("--password", help="Else asked for (hidden); kept in the OS keyring"),
    ] = None,
    no_password: Annotated[
        bool, typer.Option("--no-password", help="Keep no password (CI: use DIAHIL_PASSWORD)")
    ] = False,
) -> None:
    """Add (or update) an account; the first one added becomes the current one."""
    console = Console(stderr=True)
    try:
        store = AccountStore()
        before = store.accounts.get(name)
        store.add(Account(name, cloud.rstrip("/"), email))
    except UsageError as error:
        raise _fail(error) from None
    logins = {(a.cloud_url, a.email) for a in store.accounts.values()}
    if before is not None and (before.cloud_url, before.email) not in logins:
        forget_password(before.cloud_url, before.email)  # no account uses the old login now
    kept = "no password kept"
    if not no_password:
        if password is None:
            password = typer.prompt(f"Password for {email}", hide_input=True)
        try:
            store_password(cloud.rstrip("/"), email, password)
            kept = "password kept in the OS keyring"
        except NoKeyring as error:
            console.print(
                f"[yellow]Warning[/yellow] {escape(error.message)} The account was added "
                "without it: set DIAHIL_PASSWORD when uploading with it."
            )
            kept = "no password kept (no keyring)"
    current = " (current)" if store.current == name else ""
    Console().print(f"Account {escape(name)}{current}: {escape(email)} at {escape(cloud)}; {kept}.")


@app.command("list")
def list_accounts(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object")] = False,
) -> None:
    """The accounts, and which one is current (passwords are never shown)."""
    try:
        store = AccountStore()
    except UsageError as error:
        raise _fail(error) from None
    accounts = sorted(store.accounts.values(), key=lambda a: a.name)
    if as_json:
        print(
            json.dumps(
                {
                    "current": store.current,
                    "accounts": [
                        {"name": a.name, "cloud": a.cloud_url, "email": a.email} for a in accounts
                    ],
                },
                indent=2,
            )
        )
        return
    if not accounts:
        Console().print("No accounts yet: `diahil account add NAME --cloud URL --email EMAIL`.")
        return
    table = Table("", "name", "cloud", "email")
    for a in accounts:
        table.add_row("*" if a.name == store.current else "", escape(a.name), a.cloud_url, a.email)
    Console().print(table)


@app.command("use")
def use(
    name: Annotated[str, typer.Argument(help="The account to upload with from now on")],
) -> None:
    """Make an account the current one (diahil upload uses it)."""
    try:
        account = AccountStore().use(name)
    except UsageError as error:
        raise _fail(error) from None
    Console().print(f"Uploads now go to {escape(account.email)} at {escape(account.cloud_url)}.")


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="The account to forget")]) -> None:
    """Forget an account and its kept password (the cloud and the sync state are untouched)."""
    try:
        store = AccountStore()
        account = store.remove(name)
    except UsageError as error:
        raise _fail(error) from None
    still_used = any(
        (a.cloud_url, a.email) == (account.cloud_url, account.email)
        for a in store.accounts.values()
    )
    forgot = False if still_used else forget_password(account.cloud_url, account.email)
    what = " and its password" if forgot else ""
    Console().print(f"Removed account {escape(name)}{what}.")
