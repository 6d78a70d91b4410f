"""The one permission policy: who may read, write or administer a repo or a namespace.

Each rule is one condition per line. Routes ask through these functions only;
the repo loaders turn "may not read" into "not found" so that private repos are
never revealed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dazi.accounts.services import Actor
    from dazi.repos.models import Repo

_RANK = {"read": 1, "write": 2, "admin": 3}


def namespace_role(actor: Actor | None, namespace_id: int) -> str | None:
    """The actor's role on a namespace: ``admin`` for their own, their org role, else None."""
    if actor is None:
        return None
    if actor.is_admin or actor.namespace_id == namespace_id:
        return "admin"
    return actor.org_roles.get(namespace_id)


def can_read(actor: Actor | None, repo: Repo) -> bool:
    if not repo.private:
        return True
    return namespace_role(actor, repo.namespace_id) is not None


def can_write(actor: Actor | None, repo: Repo) -> bool:
    return can_write_namespace(actor, repo.namespace_id)


def can_admin(actor: Actor | None, repo: Repo) -> bool:
    if actor is None or not actor.can_write:
        return False
    return _RANK.get(namespace_role(actor, repo.namespace_id) or "", 0) >= _RANK["admin"]


def can_write_namespace(actor: Actor | None, namespace_id: int) -> bool:
    """Create repos in, or push to repos of, a namespace."""
    if actor is None or not actor.can_write:
        return False
    return _RANK.get(namespace_role(actor, namespace_id) or "", 0) >= _RANK["write"]
