"""Which model a request names, and which engine can run it.

``model`` is a repo id, optionally with a revision: ``owner/name`` or ``owner/name@revision`` (a branch,
tag or commit id). The repo is loaded with ``get_repo_for``, so a private model the caller may not read
is "not found", exactly like an unknown one.

The engine is chosen from the revision's files and card (``detect``), never by running code:

- **embedding** (sentence-transformers): ``modules.json`` or ``sentence_bert_config.json``, or the card's
  ``library_name: sentence-transformers``;
- **text-generation** (transformers causal LM): ``config.json`` whose ``architectures`` end in
  ``ForCausalLM`` or ``LMHeadModel``, or a ``text-generation`` card with a ``config.json``; chat needs a chat
  template (``tokenizer_config.json`` → ``chat_template``, or ``chat_template.jinja`` / ``.json``).

Both need weights (``*.safetensors`` or ``pytorch_model*.bin``). Detections are cached by commit id.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from dazi.accounts.services import Actor
from dazi.errors import RepoNotFound, RevisionNotFound
from dazi.hub import Hub
from dazi.inference.engines import EMBEDDING, TEXT_GENERATION
from dazi.inference.errors import ModelNotFound
from dazi.inference.snapshots import RevisionFile, revision_files, wanted
from dazi.repos import services as repos
from dazi.repos.listing import visible
from dazi.repos.models import Ref, Repo, RepoTag

_CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel")
_MAX_JSON = 4 * 1024 * 1024
_CHAT_FILES = ("chat_template.jinja", "chat_template.json")


@dataclass(frozen=True)
class Detection:
    engine: str | None  # TEXT_GENERATION | EMBEDDING | None
    reason: str  # why not, when engine is None
    chat: bool
    weight_bytes: int
    files: tuple[RevisionFile, ...]


@dataclass(frozen=True)
class ModelRef:
    name: str  # as the request named it
    repo_id: str
    repo_pk: int
    owner: str
    created: int
    revision: str
    commit: str
    detection: Detection


def split_model(model: str) -> tuple[str, str | None]:
    repo_id, at, revision = model.partition("@")
    return repo_id, (revision if at else None)


class Catalog:
    def __init__(self, hub: Hub, cache_size: int = 4096):
        self.hub = hub
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[int, str], Detection] = OrderedDict()
        self._cache_size = cache_size

    def resolve(self, actor: Actor | None, model: Any) -> ModelRef:
        if not isinstance(model, str) or not model.strip():
            raise ModelNotFound(str(model), "You must provide a model parameter (a repo id: owner/name[@revision]).")
        with self.hub.db.read() as session:
            return self.resolve_in(session, actor, model)

    def resolve_in(self, session: Session, actor: Actor | None, model: str) -> ModelRef:
        """``resolve`` within the caller's transaction."""
        if not model.strip():
            raise ModelNotFound(model, "You must provide a model parameter (a repo id: owner/name[@revision]).")
        repo_id, revision = split_model(model.strip())
        try:
            repo = repos.get_repo_for(session, actor, "model", repo_id)
        except RepoNotFound:
            raise ModelNotFound(model) from None
        try:
            commit = repos.resolve_revision(session, repo, revision or repos.DEFAULT_BRANCH)
        except RevisionNotFound:
            raise ModelNotFound(model, f"The model '{repo_id}' has no revision '{revision}'.") from None
        detection = self.detect(session, repo, commit)
        return ModelRef(model, repo.repo_id, repo.id, repo.namespace.name, int(repo.created_at.timestamp()),
                        revision or repos.DEFAULT_BRANCH, commit, detection)

    def detect(self, session: Session, repo: Repo, commit: str) -> Detection:
        key = (repo.id, commit)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return found
        detection = self._detect(session, repo, commit)
        with self._lock:
            self._cache[key] = detection
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return detection

    def _detect(self, session: Session, repo: Repo, commit: str) -> Detection:
        files = {f.path: f for f in revision_files(session, repo.id, commit)}
        needed = tuple(wanted(list(files.values())))
        weights = [f for f in needed if f.path.endswith(".safetensors") or
                   (f.path.rsplit("/", 1)[-1].startswith("pytorch_model") and f.path.endswith(".bin"))]
        weight_bytes = sum(f.size for f in weights)

        def result(engine: str | None, reason: str = "", chat: bool = False) -> Detection:
            return Detection(engine, reason, chat, weight_bytes, needed)

        if "config.json" not in files:
            return result(None, "it has no config.json, so it is not a transformers or sentence-transformers model")
        if not weights:
            return result(None, "it has no weights (*.safetensors or pytorch_model*.bin)")
        if "modules.json" in files or "sentence_bert_config.json" in files or (
            repo.library_name or ""
        ).lower() == "sentence-transformers":
            return result(EMBEDDING)
        config = self._json(session, repo.id, files.get("config.json"))
        archs = [a for a in config.get("architectures") or [] if isinstance(a, str)]
        causal = any(a.endswith(_CAUSAL_SUFFIXES) for a in archs) or (
            not archs and repo.pipeline_tag == "text-generation"
        )
        if not causal:
            shown = ", ".join(archs) or "none declared"
            return result(None, f"its architectures ({shown}) are not a causal language model")
        tok_config = self._json(session, repo.id, files.get("tokenizer_config.json"))
        chat = bool(tok_config.get("chat_template")) or any(name in files for name in _CHAT_FILES)
        return result(TEXT_GENERATION, chat=chat)

    def _json(self, session: Session, repo_pk: int, f: RevisionFile | None) -> dict[str, Any]:
        if f is None or f.size > _MAX_JSON:
            return {}
        if f.lfs_oid is None:
            from dazi.repos.git import ObjectStore

            data = ObjectStore(session, repo_pk).blob_data(f.git_oid)
        else:
            data = self.hub.blobs.read(f.lfs_oid)
        try:
            value = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            return {}
        return value if isinstance(value, dict) else {}

    def servable(self, actor: Actor | None, limit: int = 200) -> list[ModelRef]:
        """The newest model repos the actor may read whose default branch an engine can run."""
        with self.hub.db.read() as session:
            with_weights = select(RepoTag.repo_id).where(RepoTag.tag.in_(("safetensors", "pytorch")))
            stmt = visible(select(Repo).where(Repo.type == "model", Repo.id.in_(with_weights)), actor)
            found = list(session.execute(stmt.order_by(Repo.last_modified.desc()).limit(limit)).scalars())
            rows = session.execute(
                select(Ref.repo_id, Ref.target).where(
                    Ref.repo_id.in_([r.id for r in found]), Ref.name == f"refs/heads/{repos.DEFAULT_BRANCH}"
                )
            )
            heads = {repo_pk: target for repo_pk, target in rows}
            out = []
            for repo in found:
                commit = heads.get(repo.id)
                if commit is None:
                    continue
                detection = self.detect(session, repo, commit)
                if detection.engine is not None:
                    out.append(ModelRef(repo.repo_id, repo.repo_id, repo.id, repo.namespace.name,
                                        int(repo.created_at.timestamp()), repos.DEFAULT_BRANCH, commit, detection))
        return out
