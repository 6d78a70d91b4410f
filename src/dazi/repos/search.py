"""Full-text search over repo names, descriptions, tags and cards, for Chinese as well as English.

Semantics (the same on both backends): a search value matches a repo when the repo id contains it
(case-insensitive, literal: ``%`` and ``_`` are ordinary characters), or when each of its
whitespace-separated words occurs in the repo id or in the repo's search document (display name,
description, tags and the card's Markdown). Matching is by substring, not by word, because Chinese
has no spaces between words: ``中文`` finds a card that says ``这是一个中文模型``.

The document lives in ``repo_search`` and is indexed by trigrams: an FTS5 table with the
``trigram`` tokenizer on SQLite (kept in sync by triggers), a ``gin_trgm_ops`` index on PostgreSQL
(``pg_trgm``). Words shorter than three characters cannot use a trigram index and fall back to a
scan of ``repo_search`` (still correct; trigram indexes need three characters to do anything).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, column, literal, literal_column, or_, select, table
from sqlalchemy.orm import Session

from dazi.repos.cards import Card
from dazi.repos.models import Repo, RepoSearch

MAX_DOCUMENT_CHARS = 200_000
_FTS = table("repo_search_fts", column("rowid"))


def document_for(card: Card, tags: Iterable[str]) -> str:
    """What search matches besides the id: names, description, tags and the card body."""
    names = [card.text(k) or "" for k in ("chinese_name", "display_name", "pretty_name")]
    parts = [*names, card.description, " ".join(tags), card.body]
    return "\n".join(p for p in parts if p)[:MAX_DOCUMENT_CHARS]


def index_repo(session: Session, repo: Repo, card: Card, tags: Iterable[str]) -> None:
    """Store the repo's search document (called whenever the default branch's card is re-read)."""
    document = document_for(card, tags)
    row = session.get(RepoSearch, repo.id)
    if row is None:
        session.add(RepoSearch(repo_id=repo.id, document=document))
    elif row.document != document:
        row.document = document


def matches(session: Session, value: str) -> ColumnElement[bool]:
    """A condition on ``Repo`` that is true when the repo matches the search ``value``."""
    words = value.split()
    whole = Repo.repo_id_lower.contains(value.lower(), autoescape=True)
    if not words:
        return whole
    dialect = session.get_bind().dialect.name
    each = [or_(Repo.repo_id_lower.contains(w.lower(), autoescape=True), _in_document(dialect, w)) for w in words]
    return or_(whole, and_(*each))


def _in_document(dialect: str, word: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        pattern = "%" + _escape_like(word) + "%"
        ids: Any = select(RepoSearch.repo_id).where(RepoSearch.document.ilike(pattern, escape="\\"))
    elif len(word) >= 3:
        phrase = '"' + word.replace('"', '""') + '"'
        ids = select(_FTS.c.rowid).where(_fts_match(phrase))
    else:
        ids = select(RepoSearch.repo_id).where(RepoSearch.document.contains(word, autoescape=True))
    return Repo.id.in_(ids)


def _fts_match(phrase: str) -> ColumnElement[bool]:
    """``repo_search_fts MATCH :phrase`` (the FTS5 table's name stands for all its columns)."""
    condition: ColumnElement[bool] = literal_column("repo_search_fts").op("MATCH")(literal(phrase))
    return condition


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
