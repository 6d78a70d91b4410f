"""Cards and Markdown files → safe HTML: markdown-it-py, then nh3 (ammonia) on the result.

Cards are untrusted. Raw HTML in them is allowed through markdown-it and then sanitized: only
ammonia's default tags and attributes survive (no ``<script>``, ``<style>``, ``<svg>``, ``<iframe>``,
forms, ``on*=`` or ``style`` attributes, ``id`` or ``name``); links may use http, https and mailto only
(no ``javascript:``/``data:``) and get ``rel="noopener noreferrer nofollow"``; ``class`` keeps only
the code highlighter's ``hl-*`` and ``language-*`` names, so a card cannot borrow the site's styles.
Relative links and images are rewritten to the repo's file and download URLs.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name
from pygments.util import ClassNotFound

from dazi.web import urls

MAX_MARKDOWN_CHARS = 500_000
MAX_HIGHLIGHT_CHARS = 50_000
_FORMATTER = HtmlFormatter(nowrap=True, classprefix="hl-")
_TAGS = set(nh3.ALLOWED_TAGS)
_ATTRIBUTES = {tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()}
for _tag in ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "img", "td", "th"):
    _ATTRIBUTES.setdefault(_tag, set()).add("align")
for _tag in ("code", "span", "pre"):
    _ATTRIBUTES.setdefault(_tag, set()).add("class")
_ATTRIBUTES.setdefault("a", set()).add("title")
_ATTRIBUTES.setdefault("img", set()).add("title")
_SCHEMES = {"http", "https", "mailto"}


def _highlight_code(code: str, lang: str, _attrs: object) -> str:
    if not lang or len(code) > MAX_HIGHLIGHT_CHARS:
        return ""
    try:
        lexer = get_lexer_by_name(lang.split()[0], stripnl=False)
    except ClassNotFound:
        return ""
    return str(pygments_highlight(code, lexer, _FORMATTER))


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True, "highlight": _highlight_code})
    return md.enable(["table", "strikethrough"])


_MD = _parser()


def _classes(value: str) -> str | None:
    kept = [c for c in value.split() if c.startswith(("hl-", "language-"))]
    return " ".join(kept) if kept else None


def _url_rewriter(repo: urls.RepoLike | None, revision: str, base_dir: str) -> Callable[[str, str, str], str | None]:
    """Relative ``src``/``href`` → the repo's download / file-view URLs; drop what leaves the repo."""

    def rewrite(tag: str, attr: str, value: str) -> str | None:
        if attr == "class":
            return _classes(value)
        if attr not in ("src", "href"):
            return value
        parts = urlsplit(value.strip())
        if parts.scheme or parts.netloc or value.startswith(("#", "/")) or repo is None:
            return value
        target = posixpath.normpath(posixpath.join(base_dir, parts.path)) if parts.path else ""
        if not target or target.startswith("..") or target == ".":
            return None
        if tag == "img":
            return urls.raw(repo, revision, target)
        return urls.blob(repo, revision, target) + (f"#{parts.fragment}" if parts.fragment else "")

    return rewrite


def render_markdown(text: str, repo: urls.RepoLike | None = None, revision: str = "main", path: str = "") -> str:
    """Markdown (a card body or a ``.md`` file) → sanitized HTML."""
    html = _MD.render(text[:MAX_MARKDOWN_CHARS])
    return sanitize(html, repo, revision, posixpath.dirname(path))


def sanitize(html: str, repo: urls.RepoLike | None = None, revision: str = "main", base_dir: str = "") -> str:
    return nh3.clean(
        html,
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        attribute_filter=_url_rewriter(repo, revision, base_dir),
        url_schemes=_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
