"""Organizations: creation and membership roles."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from dazi.accounts.models import Namespace, User
from dazi.accounts.services import create_namespace
from dazi.errors import BadRequest, Conflict, NotFound
from dazi.orgs.models import ROLES, Membership, Org


def create_org(session: Session, name: str, owner: User, fullname: str = "") -> Org:
    ns = create_namespace(session, name, "org", fullname)
    org = Org(namespace_id=ns.id)
    session.add(org)
    session.flush()
    session.add(Membership(org_id=org.id, user_id=owner.id, role="admin"))
    session.flush()
    return org


def get_org(session: Session, name: str) -> Org:
    org = session.execute(select(Org).join(Namespace).where(Namespace.name_lower == name.lower())).scalar_one_or_none()
    if org is None:
        raise NotFound(f"No organization named {name!r}.")
    return org


def set_member(session: Session, org: Org, user: User, role: str) -> Membership:
    if role not in ROLES:
        raise BadRequest(f"Role must be one of {', '.join(ROLES)}.")
    member = session.get(Membership, (org.id, user.id))
    if member is None:
        member = Membership(org_id=org.id, user_id=user.id, role=role)
        session.add(member)
    else:
        member.role = role
    session.flush()
    return member


def remove_member(session: Session, org: Org, user: User) -> None:
    member = session.get(Membership, (org.id, user.id))
    if member is None:
        raise NotFound(f"{user.name!r} is not a member of {org.name!r}.")
    session.delete(member)


def members(session: Session, org: Org) -> list[Membership]:
    return list(session.execute(select(Membership).where(Membership.org_id == org.id)).scalars())


def roles_of(session: Session, user: User) -> dict[int, str]:
    """The user's role in each organization, keyed by the organization's namespace id."""
    stmt = (
        select(Org.namespace_id, Membership.role)
        .join(Org, Org.id == Membership.org_id)
        .where(Membership.user_id == user.id)
    )
    return {ns_id: role for ns_id, role in session.execute(stmt)}


def orgs_of(session: Session, user: User) -> list[Org]:
    stmt = select(Org).join(Membership, Membership.org_id == Org.id).where(Membership.user_id == user.id)
    return list(session.execute(stmt).scalars())


def ensure_admin_remains(session: Session, org: Org, user: User, new_role: str | None) -> None:
    """Raise Conflict if giving ``user`` ``new_role`` (``None``: removing them) leaves ``org`` without an admin."""
    if new_role == "admin":
        return
    admins = {m.user_id for m in members(session, org) if m.role == "admin"}
    if admins == {user.id}:
        raise Conflict(f"{user.name!r} is the last admin of {org.name!r}; make someone else admin first.")
