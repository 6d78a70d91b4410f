"""The web site's gettext catalogs: extract, update, compile, check (``python -m dazi.web.catalogs …``).

- ``extract``: every ``_()`` / ``gettext`` / ``ngettext`` in the templates and every ``N_()`` marker in
  ``dazi/web/*.py`` → ``locales/messages.pot``.
- ``update``: merge the template into ``locales/<locale>/LC_MESSAGES/messages.po`` (new strings appear
  untranslated; removed ones become obsolete).
- ``compile``: ``.po`` → ``.mo``. The ``.mo`` files are committed, so an install needs no build step.
- ``check``: fails when the catalogs lag behind the code (a string without a Chinese translation, a
  ``.mo`` older than its ``.po``); ``tests/web/test_i18n.py`` runs it.

English is the source language: its catalog exists for completeness and stays untranslated.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from dazi.web.i18n import DOMAIN, LOCALE_DIR, LOCALES

WEB_DIR = Path(__file__).parent
TEMPLATE_FILE = LOCALE_DIR / f"{DOMAIN}.pot"
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}
METHODS = [("templates/**.html", "jinja2.ext:babel_extract"), ("*.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "trim_blocks": "true", "lstrip_blocks": "true"}}
TRANSLATED = ("zh_CN",)  # locales whose every message must be translated


def extract() -> Catalog:
    catalog = Catalog(project="dazi", domain=DOMAIN, fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(WEB_DIR), METHODS, OPTIONS, KEYWORDS, comment_tags=("TRANSLATORS:",), strip_comment_tags=True
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def po_path(locale: str) -> Path:
    return LOCALE_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale, domain=DOMAIN)


def _po_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_po(buffer, catalog, width=100, omit_header=False, sort_output=False, include_previous=False)
    return buffer.getvalue()


def _mo_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def update() -> None:
    template = extract()
    TEMPLATE_FILE.parent.mkdir(parents=True, exist_ok=True)
    TEMPLATE_FILE.write_bytes(_po_bytes(template))
    for locale in LOCALES:
        path = po_path(locale)
        if path.exists():
            catalog = read(path, locale)
            catalog.update(template, no_fuzzy_matching=True)
        else:
            catalog = Catalog(locale=locale, domain=DOMAIN, project="dazi")
            catalog.update(template)
            path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(_po_bytes(catalog))


def compile_all() -> None:
    for locale in LOCALES:
        path = po_path(locale)
        path.with_suffix(".mo").write_bytes(_mo_bytes(read(path, locale)))


def check() -> list[str]:
    """What is out of date, in words (empty: all good)."""
    problems = []
    wanted = {m.id for m in extract() if m.id}
    for locale in LOCALES:
        path = po_path(locale)
        if not path.exists():
            problems.append(f"{path} is missing: run `python -m dazi.web.catalogs update`")
            continue
        catalog = read(path, locale)
        known = {m.id for m in catalog if m.id}
        problems += [f"{locale}: not in the catalog: {_show(i)}" for i in sorted(wanted - known, key=str)]
        if locale in TRANSLATED:
            for message in catalog:
                if message.id and message.id in wanted and (message.fuzzy or not _translated(message.string)):
                    problems.append(f"{locale}: untranslated: {_show(message.id)}")
        mo = path.with_suffix(".mo")
        if not mo.exists() or _messages(read_mo_file(mo)) != _messages(catalog):
            problems.append(f"{mo} is out of date: run `python -m dazi.web.catalogs compile`")
    return problems


def read_mo_file(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_mo(f)


def _messages(catalog: Catalog) -> dict[object, object]:
    """What a compiled catalog answers: real translations (not the header, nor msgid fallbacks)."""
    def frozen(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    return {
        frozen(m.id): frozen(m.string)
        for m in catalog
        if m.id and not m.fuzzy and _translated(m.string) and frozen(m.string) != frozen(m.id)
    }


def _translated(value: object) -> bool:
    if isinstance(value, tuple | list):
        return all(bool(v) for v in value)
    return bool(value)


def _show(message_id: object) -> str:
    return repr(message_id[0] if isinstance(message_id, tuple) else message_id)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "check"
    if command in ("extract", "update"):
        update()
    elif command == "compile":
        compile_all()
    elif command == "check":
        problems = check()
        for problem in problems:
            print(problem)
        return 1 if problems else 0
    else:
        print("usage: python -m dazi.web.catalogs [update|compile|check]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
