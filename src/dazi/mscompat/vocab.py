"""The two vocabularies: what ModelScope calls things ↔ what the hub stores (docs/reference/modelscope.md).

- Revisions: ModelScope's default branch is ``master``, the hub's is ``main``. A ModelScope request for
  ``master`` (or for no revision) reads ``main`` unless the repo has a real ``master`` branch; in
  ModelScope revision lists ``main`` is shown as ``master`` (again unless a real ``master`` exists).
- Visibility: ``1`` private, ``3`` internal, ``5`` public ↔ the ``private`` flag. The hub has no
  "internal" audience, so ``3`` is stored as private (never wider than asked); private repos read as ``1``.
- Card metadata: ``License`` (SPDX or display name, case-insensitive → lower-case SPDX), ``Tasks``,
  ``ChineseName`` and ``Description`` become the README's front matter (``license``, ``tasks``,
  ``chinese_name``) and body; the hub's card columns are read back the same way.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from sqlalchemy.orm import Session

from dazi.errors import BadRequest, NotFound
from dazi.repos import services as repos
from dazi.repos.cards import Card
from dazi.repos.models import Repo

MS_DEFAULT_BRANCH = "master"
PRIVATE, INTERNAL, PUBLIC = 1, 3, 5
DATASET_TYPE_GENERAL = 4  # ``Type`` of a dataset: 4 = "general" (files read by the HF ``datasets`` bridge)
PLURAL = {"models": "model", "datasets": "dataset"}

# Display names the SDKs send (``Licenses`` of modelscope ≤1.37, the new SDK's translation table).
_LICENSE_NAMES = {
    "apache license 2.0": "apache-2.0",
    "apache 2.0": "apache-2.0",
    "mit license": "mit",
    "bsd license": "bsd",
}
_SPDX = re.compile(r"^[a-z0-9][a-z0-9.+-]{0,63}$")


def repo_type_of(plural: str) -> str:
    """``models`` / ``datasets`` → the hub's repo type; anything else is an unknown route."""
    repo_type = PLURAL.get(plural)
    if repo_type is None:
        raise NotFound(f"Unknown route: /api/v1/{plural}/…")
    return repo_type


# -- revisions ----------------------------------------------------------------------------------


def has_master(session: Session, repo: Repo) -> bool:
    return repos.get_ref(session, repo, f"refs/heads/{MS_DEFAULT_BRANCH}") is not None


def hub_revision(session: Session, repo: Repo, revision: str | None) -> str:
    """The hub revision a ModelScope ``Revision`` names (``master`` or nothing → ``main``)."""
    if not revision or revision == MS_DEFAULT_BRANCH:
        return MS_DEFAULT_BRANCH if has_master(session, repo) else repos.DEFAULT_BRANCH
    return revision


def ms_branch(name: str, real_master: bool) -> str:
    """How a hub branch is named to ModelScope clients."""
    return MS_DEFAULT_BRANCH if name == repos.DEFAULT_BRANCH and not real_master else name


# -- visibility ---------------------------------------------------------------------------------


def visibility(repo: Repo) -> int:
    return PRIVATE if repo.private else PUBLIC


def private_from(value: Any) -> bool:
    """``Visibility`` as sent (int, numeric string or label) → the hub's ``private`` flag."""
    labels = {"private": PRIVATE, "internal": INTERNAL, "public": PUBLIC}
    if isinstance(value, str):
        value = labels.get(value.strip().lower(), value.strip())
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = 0
    if number not in (PRIVATE, INTERNAL, PUBLIC) or isinstance(value, bool):
        raise BadRequest(f"Invalid Visibility {value!r}: use 1 (private), 3 (internal) or 5 (public).")
    return number != PUBLIC


# -- card metadata ------------------------------------------------------------------------------


def license_id(value: Any) -> str | None:
    """A license as sent (SPDX id or display name, any case) → lower-case SPDX; empty → None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise BadRequest("License must be a string.")
    text = " ".join(value.split()).lower()
    text = _LICENSE_NAMES.get(text, text)
    if not _SPDX.match(text):
        raise BadRequest(f"Invalid License {value[:100]!r}: use an SPDX id such as apache-2.0 or mit.")
    return text


def task_list(value: Any) -> list[str]:
    """``Tasks`` as a list or a comma-separated string."""
    if value is None or value == "":
        return []
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(t, str) for t in items):
        raise BadRequest("Tasks must be a list of task names.")
    return [t.strip() for t in items if t.strip()]


def optional_text(body: dict[str, Any], key: str, limit: int) -> str:
    value = body.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise BadRequest(f"{key} must be a string.")
    if len(value) > limit:
        raise BadRequest(f"{key} is too long (at most {limit} characters).")
    return value.strip()


def card_from(body: dict[str, Any], name: str) -> bytes | None:
    """The initial README.md of a repo created with ModelScope fields, or None when none were given."""
    meta: dict[str, Any] = {}
    license_ = license_id(body.get("License"))
    if license_:
        meta["license"] = license_
    tasks = task_list(body.get("Tasks"))
    if tasks:
        meta["tasks"] = tasks
    chinese_name = optional_text(body, "ChineseName", 200)
    if chinese_name:
        meta["chinese_name"] = chinese_name
    description = optional_text(body, "Description", 20_000)
    if not meta and not description:
        return None
    front = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False) if meta else ""
    text = f"---\n{front}---\n\n# {chinese_name or name}\n\n{description}\n" if meta else f"{description}\n"
    return text.encode()


def card_tasks(repo: Repo) -> list[str]:
    """The ``tasks`` (or ``task_categories``) of the repo's card, else its pipeline tag."""
    card = Card(data=repo.card_data if isinstance(repo.card_data, dict) else {})
    found = card.strings("tasks") or card.strings("task_categories")
    return found or ([repo.pipeline_tag] if repo.pipeline_tag else [])
