"""``dazi serve`` and ``dazi db``: run the hub (building the app lazily) and migrate its database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dazi.cli._common import DataDir, fail, say, settings_for

if TYPE_CHECKING:
    from dazi.hub import Hub

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    data_dir: DataDir = None,
    bootstrap: Annotated[bool, typer.Option(help="Create an admin account on first start.")] = True,
    ssl_certfile: Annotated[
        Path | None,
        typer.Option(
            "--ssl-certfile",
            help="Serve HTTPS with this PEM certificate (chain). modelscope ≤1.37 reaches a hub set in "
            "MODELSCOPE_DOMAIN over HTTPS only.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    ssl_keyfile: Annotated[
        Path | None,
        typer.Option("--ssl-keyfile", help="The PEM private key of --ssl-certfile.", exists=True, dir_okay=False),
    ] = None,
) -> None:
    """Start the hub (SQLite + local files under the data folder unless configured otherwise)."""
    import uvicorn

    from dazi.app import create_app
    from dazi.hub import Hub

    if (ssl_certfile is None) != (ssl_keyfile is None):
        fail("--ssl-certfile and --ssl-keyfile go together.")
    settings = settings_for(data_dir)
    hub = Hub.open(settings)
    url = settings.public_url or f"{'https' if ssl_certfile else 'http'}://{host}:{port}"
    if bootstrap:
        first_start(hub, url)
    say(
        f"dazi: serving {url}  (data: {settings.data_dir}, database: {hub.db.engine.dialect.name}, "
        f"storage: {settings.resolved_storage_url().split('://')[0]})"
    )
    app = create_app(settings, hub)
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level=settings.log_level,
            proxy_headers=True,
            timeout_keep_alive=30,
            ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
            ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        )
    finally:
        hub.close()


def first_start(hub: Hub, url: str) -> None:
    """On an empty hub, create the administrator and a write token, and say how to use them."""
    import secrets

    from dazi.accounts.services import count_users, create_token, create_user

    with hub.db.write() as session:
        if count_users(session):
            return
        password = secrets.token_urlsafe(12)
        user = create_user(session, "admin", "admin@localhost", password, is_admin=True)
        _token, secret = create_token(session, user, "write", "first start")
    say(
        "\n".join(
            [
                "",
                "dazi: first start — created the administrator account (shown only once):",
                "  user:     admin",
                f"  password: {password}     (change it: dazi users set-password admin)",
                f"  token:    {secret}     (role: write)",
                "",
                "Use it with the Hugging Face clients:",
                f"  export HF_ENDPOINT={url}",
                f"  export HF_TOKEN={secret}",
                "  hf auth whoami",
                "and with the ModelScope clients (modelscope ≥1.38; see docs/reference/modelscope.md):",
                f"  export MODELSCOPE_ENDPOINT={url}",
                f"  modelscope login --token {secret}",
                "",
            ]
        )
    )


@db_app.command("upgrade")
def db_upgrade(data_dir: DataDir = None) -> None:
    """Apply the Alembic migrations (also done on every start)."""
    from dazi.db import migrate

    settings = settings_for(data_dir)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrate(settings.resolved_database_url())
    say("database schema is up to date")
