"""Options and helpers shared by the command groups. Data on stdout, messages on stderr."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from dazi.config import Settings
    from dazi.hub import Hub

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Data folder (default ./.dazi, or DAZI_DATA_DIR).", show_default=False),
]


def settings_for(data_dir: Path | None, **overrides: object) -> Settings:
    from dazi.config import Settings

    values = {k: v for k, v in overrides.items() if v is not None}
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)  # type: ignore[arg-type]


@contextmanager
def opened_hub(data_dir: Path | None) -> Iterator[Hub]:
    from dazi.errors import DaziError
    from dazi.hub import Hub

    hub = Hub.open(settings_for(data_dir))
    try:
        yield hub
    except DaziError as exc:
        fail(exc.message)
    finally:
        hub.close()


def say(message: str) -> None:
    typer.echo(message, err=True)


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
