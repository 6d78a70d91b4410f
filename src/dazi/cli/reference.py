"""The Markdown CLI reference (``docs/reference/cli.md`` is generated from the commands; a test checks it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import typer


def cli_reference() -> str:
    from dazi.cli import app

    lines = [
        "# CLI reference",
        "",
        "Generated from the command definitions (`dazi.cli.reference`); `tests/test_docs.py` fails when this",
        "page and the commands disagree. Every command also answers `--help`.",
        "",
    ]
    for path, command in _walk(typer.main.get_command(app), ["dazi"]):
        if hasattr(command, "commands"):
            continue
        args = " ".join((p.name or "").upper() for p in command.params if p.param_type_name == "argument")
        lines += [f"## `{' '.join(path)}{' ' + args if args else ''}`", "", (command.help or "").strip(), ""]
        options = [p for p in command.params if p.param_type_name == "option" and p.name != "help"]
        if options:
            lines += ["| option | default | |", "|---|---|---|"]
            for opt in options:
                names = ", ".join(f"`{o}`" for o in [*opt.opts, *opt.secondary_opts])
                default = "" if opt.default in (None, "", False) or callable(opt.default) else f"`{opt.default}`"
                lines.append(f"| {names} | {default} | {(opt.help or '').strip()} |")
            lines.append("")
    return "\n".join(lines)


def _walk(command: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
    """Every command below ``command`` (typer ships its own copy of click, so duck typing)."""
    yield path, command
    if hasattr(command, "commands"):
        for name in sorted(command.commands):
            yield from _walk(command.commands[name], [*path, name])
