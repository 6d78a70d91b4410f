"""The ``dazi`` command: the root only wires the command groups (each imports the server lazily)."""

from __future__ import annotations

import typer

from dazi.cli import accounts, admin, server

app = typer.Typer(
    help="dazi (搭子): a self-hosted AI model community.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(server.serve)
app.add_typer(server.db_app, name="db")
app.add_typer(accounts.users_app, name="users")
app.add_typer(accounts.tokens_app, name="tokens")
app.add_typer(accounts.orgs_app, name="orgs")
app.add_typer(admin.admin_app, name="admin")


def main() -> None:
    app()
