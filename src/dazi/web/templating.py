"""Jinja2 environments, one per language (gettext installed), with the site's helpers as globals."""

from __future__ import annotations

import functools
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from dazi import __version__, authz
from dazi.web import i18n, labels, urls


def static_url(path: str) -> str:
    """Static assets are versioned by the package version, so they can be cached for long."""
    return f"/static/{path}?v={__version__}"


@functools.cache
def environment(locale: str) -> Environment:
    env = Environment(
        loader=PackageLoader("dazi.web", "templates"),
        autoescape=select_autoescape(["html", "svg"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    catalog = i18n.translations(locale)
    env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]

    def tr(message: str) -> str:
        """Translate a string marked in Python code (no %-formatting, unlike ``_()``)."""
        return str(catalog.gettext(message))

    def task_label(tag: str) -> str:
        return tr(labels.TASKS[tag]) if tag in labels.TASKS else tag

    env.globals.update(
        tr=tr,
        task_label=task_label,
        can_write=authz.can_write,
        can_admin=authz.can_admin,
        relation_labels=labels.RELATIONS,
        static=static_url,
        url=urls,
        fmt=i18n.Formatter(locale),
        locale=locale,
        html_lang="zh-CN" if locale == "zh_CN" else "en",
        languages=i18n.LANGUAGE_NAMES,
        version=__version__,
    )
    return env


def render(locale: str, template: str, context: dict[str, Any]) -> str:
    return environment(locale).get_template(template).render(context)
