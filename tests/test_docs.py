"""Docs move with the code: generated references must match, and the README keeps the two commands."""

from pathlib import Path

from dazi.config import settings_reference

ROOT = Path(__file__).resolve().parents[1]


def test_settings_reference_is_current() -> None:
    assert (ROOT / "docs/reference/settings.md").read_text() == settings_reference(), (
        "regenerate: python -c \"from dazi.config import settings_reference; "
        "open('docs/reference/settings.md','w').write(settings_reference())\""
    )


def test_readme_has_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make serve" in readme and "make test" in readme


def test_every_cli_group_is_in_the_readme() -> None:
    from dazi.cli import app

    readme = (ROOT / "README.md").read_text()
    for group in app.registered_groups:
        assert f"dazi {group.name}" in readme


def test_cli_reference_is_current() -> None:
    from dazi.cli.reference import cli_reference

    assert (ROOT / "docs/reference/cli.md").read_text() == cli_reference(), (
        "regenerate: python -c \"from dazi.cli.reference import cli_reference; "
        "open('docs/reference/cli.md','w').write(cli_reference())\""
    )
