"""The job kinds registered in code. A job names one of these; arbitrary code is never accepted.

A kind's ``run`` is an import path (``module:function``) resolved inside the worker process or Ray task,
so that the API process never imports what a job needs (torch, for instance). ``prepare`` runs in the API
process when a job is submitted: it checks the caller's permissions and normalises the payload (e.g.
resolves a branch to a commit id, so that the job works on exactly what was asked for).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dazi.errors import BadRequest

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from dazi.accounts.services import Actor
    from dazi.jobs.context import JobContext

Prepare = Callable[["Session", "Actor", dict[str, Any]], dict[str, Any]]
Run = Callable[["JobContext", dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class JobKind:
    name: str
    run: str  # "module:function", called as function(ctx, payload) -> result dict
    prepare: str  # "module:function", called as function(session, actor, payload) -> payload
    description: str
    retriable: bool  # idempotent: safe to run again after a worker died
    max_attempts: int = 3
    num_cpus: float = 1.0  # what the Ray executor asks the cluster for

    def run_function(self) -> Run:
        return _load(self.run)  # type: ignore[no-any-return]

    def prepare_function(self) -> Prepare:
        return _load(self.prepare)  # type: ignore[no-any-return]


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


KINDS: dict[str, JobKind] = {
    kind.name: kind
    for kind in (
        JobKind(
            name="repo.verify",
            run="dazi.jobs.builtin:verify_revision",
            prepare="dazi.jobs.builtin:prepare_verify",
            description="Re-hash every file of a repo revision (git blob ids, LFS sha256 and sizes) against "
            "the stored content; the result is a sha256 manifest, and any mismatch fails the job.",
            retriable=True,
        ),
        JobKind(
            name="model.prepare",
            run="dazi.inference.jobs:prepare_model",
            prepare="dazi.inference.jobs:prepare_model_payload",
            description="Materialize a model revision into the inference cache, load it with the engine /v1 "
            "would choose, run a warm-up, and report the engine, parameters, memory and speed.",
            retriable=True,
            max_attempts=2,
        ),
    )
}


def get_kind(name: str) -> JobKind:
    kind = KINDS.get(name)
    if kind is None:
        known = ", ".join(sorted(KINDS))
        raise BadRequest(f"Unknown job kind {str(name)[:100]!r}: use one of {known}.")
    return kind
