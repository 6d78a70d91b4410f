"""The "Try it" box of model pages: which widget a model gets, and the inference catalog it asks.

The widget follows the engine detection of ``/v1`` (``dazi.inference.catalog``), so the page offers
exactly what the API will serve: a chat box for text-generation models with a chat template, a
completion box for those without one, a sentence-similarity box for sentence-transformers models, and
nothing for anything else. The browser calls ``/v1`` as the logged-in user (the session plus the page's
CSRF token in ``X-CSRF-Token``: ``dazi.web.sessions.api_actor``); ``static/tryit.js`` does the rest.

The box names its target in ``data-model``: a repo id here; a deployment page can reuse it with a
deployment's name.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from dazi.hub import Hub
from dazi.inference.catalog import Catalog, Detection
from dazi.inference.engines import EMBEDDING, TEXT_GENERATION
from dazi.repos.models import Repo

CHAT, COMPLETION, SIMILARITY = "chat", "completion", "similarity"
ENDPOINTS = {CHAT: "/v1/chat/completions", COMPLETION: "/v1/completions", SIMILARITY: "/v1/embeddings"}
_create = threading.Lock()
log = logging.getLogger("dazi.web")


@dataclass(frozen=True)
class TryIt:
    widget: str  # CHAT | COMPLETION | SIMILARITY
    model: str  # the ``model`` of the /v1 requests

    @property
    def endpoint(self) -> str:
        return ENDPOINTS[self.widget]


def widget_for(detection: Detection) -> str | None:
    if detection.engine == TEXT_GENERATION:
        return CHAT if detection.chat else COMPLETION
    if detection.engine == EMBEDDING:
        return SIMILARITY
    return None


def for_repo(catalog: Catalog, session: Session, repo: Repo, commit: str) -> TryIt | None:
    """The box of a model's default branch, or None when no engine can run it."""
    if repo.type != "model":
        return None
    try:
        detection = catalog.detect(session, repo, commit)
    except Exception:  # a broken config or an unreadable blob costs the box, never the page
        log.warning("engine detection failed for %s@%s", repo.repo_id, commit, exc_info=True)
        return None
    widget = widget_for(detection)
    return TryIt(widget, repo.repo_id) if widget else None


def catalog(state: Any, hub: Hub) -> Catalog:
    """The web site's catalog (one per app: detections are cached by commit, nothing is loaded)."""
    with _create:
        found: Catalog | None = getattr(state, "web_catalog", None)
        if found is None:
            found = state.web_catalog = Catalog(hub)
    return found
