"""Data and actions of the people pages: sign-up, log-in, profiles, organizations, access tokens."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from dazi.accounts import services as accounts
from dazi.accounts.models import Namespace, Token, User
from dazi.accounts.services import Actor
from dazi.errors import Forbidden, NotFound
from dazi.hub import Hub
from dazi.likes import services as likes
from dazi.orgs import services as orgs
from dazi.orgs.models import Org
from dazi.repos import listing
from dazi.web import sessions
from dazi.web.browse import RepoItem, items_of

PROFILE_REPOS = 30


@dataclass
class Profile:
    kind: str  # "user" | "org"
    name: str
    fullname: str
    joined: dt.datetime
    models: list[RepoItem]
    model_count: int
    datasets: list[RepoItem]
    dataset_count: int
    orgs: list[str] = field(default_factory=list)  # a user's organizations
    members: list[tuple[str, str]] = field(default_factory=list)  # an org's (user, role)
    likes: list[RepoItem] = field(default_factory=list)  # a user's liked repos that the viewer may see
    like_count: int = 0
    can_manage: bool = False  # the viewer may edit this profile (their own) or manage this org's members


def profile(hub: Hub, actor: Actor | None, name: str) -> Profile:
    """A user's or an organization's page; only the repos ``actor`` may see are listed and counted."""
    with hub.db.read() as session:
        ns = session.execute(select(Namespace).where(Namespace.name_lower == name.lower())).scalar_one_or_none()
        if ns is None:
            raise NotFound(f"No user or organization named {name!r}.")
        found: dict[str, tuple[list[RepoItem], int]] = {}
        for repo_type in ("model", "dataset"):
            query = listing.RepoQuery(repo_type=repo_type, author=ns.name, sort="trendingScore", limit=PROFILE_REPOS)
            rows, _more = listing.list_repos(session, actor, query)
            found[repo_type] = (items_of(session, rows), listing.count_repos(session, actor, query))
        result = Profile(ns.kind, ns.name, ns.fullname, ns.created_at, *found["model"], *found["dataset"])
        if ns.kind == "org":
            org = orgs.get_org(session, ns.name)
            result.members = sorted((m.user.name, m.role) for m in orgs.members(session, org))
            result.can_manage = actor is not None and (actor.is_admin or any(
                m.user_id == actor.user_id and m.role == "admin" for m in orgs.members(session, org)))
        else:
            user = accounts.get_user(session, ns.name)
            result.can_manage = actor is not None and actor.user_id == user.id
            result.orgs = sorted(o.name for o in orgs.orgs_of(session, user))
            liked = likes.liked_repos(session, actor, ns.name, limit=PROFILE_REPOS)
            result.likes = items_of(session, [item.repo for item in liked])
            result.like_count = likes.count_liked(session, actor, user.id)
    return result


def sign_up(hub: Hub, name: str, email: str, password: str) -> str:
    """Create an account and log it in; returns the session cookie's secret."""
    if not hub.settings.signup_enabled:
        raise Forbidden("Sign-up is closed on this hub.")
    with hub.db.write() as session:
        user = accounts.create_user(session, name.strip(), email.strip(), password)
        return sessions.start(session, user, hub.settings.web_session_days)


def log_in(hub: Hub, name: str, password: str) -> str:
    """Check the password (raises Unauthorized) and start a session; returns the cookie's secret."""
    with hub.db.read() as session:
        user = accounts.authenticate_password(session, name.strip(), password)
    with hub.db.write() as session:
        return sessions.start(session, user, hub.settings.web_session_days)


def log_out(hub: Hub, secret: str) -> None:
    with hub.db.write() as session:
        sessions.end(session, secret)


@dataclass
class Account:
    user: User
    tokens: list[Token]
    orgs: list[tuple[str, str]]  # (org, role)


def _user(session: Session, actor: Actor) -> User:
    user = session.get(User, actor.user_id)
    if user is None:
        raise NotFound("Your account no longer exists.")
    return user


def account(hub: Hub, actor: Actor) -> Account:
    with hub.db.read() as session:
        user = _user(session, actor)
        roles = orgs.roles_of(session, user)
        memberships = sorted((o.name, roles.get(o.namespace_id, "read")) for o in orgs.orgs_of(session, user))
        return Account(user, accounts.list_tokens(session, user), memberships)


def create_token(hub: Hub, actor: Actor, role: str, label: str) -> tuple[Token, str]:
    with hub.db.write() as session:
        return accounts.create_token(session, _user(session, actor), role, label.strip())


def revoke_token(hub: Hub, actor: Actor, token_id: int) -> None:
    with hub.db.write() as session:
        accounts.revoke_token(session, _user(session, actor), str(token_id))


# -- settings: profile, password, organizations -------------------------------------------------------


def update_profile(hub: Hub, actor: Actor, fullname: str, email: str) -> None:
    with hub.db.write() as session:
        accounts.update_profile(session, _user(session, actor), fullname, email)


def change_password(hub: Hub, actor: Actor, current: str, new: str) -> None:
    with hub.db.write() as session:
        accounts.change_password(session, _user(session, actor), current, new)


def create_org(hub: Hub, actor: Actor, name: str, fullname: str) -> str:
    """Create an organization with ``actor`` as its admin; returns its name."""
    with hub.db.write() as session:
        return orgs.create_org(session, name.strip(), _user(session, actor), fullname.strip()[:200]).name


@dataclass
class OrgSettings:
    name: str
    fullname: str
    members: list[tuple[str, str]]  # (user, role)


def _admin_org(session: Session, actor: Actor, name: str) -> Org:
    """The organization, if ``actor`` administers it (or the hub); raises NotFound / Forbidden."""
    org = orgs.get_org(session, name)
    if not actor.is_admin and orgs.roles_of(session, _user(session, actor)).get(org.namespace_id) != "admin":
        raise Forbidden(f"Only admins of {org.name!r} may manage its members.")
    return org


def org_settings(hub: Hub, actor: Actor, name: str) -> OrgSettings:
    with hub.db.read() as session:
        org = _admin_org(session, actor, name)
        members = sorted((m.user.name, m.role) for m in orgs.members(session, org))
        return OrgSettings(org.name, org.namespace.fullname, members)


def set_member(hub: Hub, actor: Actor, org_name: str, user_name: str, role: str) -> None:
    """Add a member or change a member's role; never leaves the organization without an admin."""
    with hub.db.write() as session:
        org = _admin_org(session, actor, org_name)
        user = accounts.get_user(session, user_name.strip())
        orgs.ensure_admin_remains(session, org, user, role)
        orgs.set_member(session, org, user, role)


def remove_member(hub: Hub, actor: Actor, org_name: str, user_name: str) -> None:
    with hub.db.write() as session:
        org = _admin_org(session, actor, org_name)
        user = accounts.get_user(session, user_name)
        orgs.ensure_admin_remains(session, org, user, None)
        orgs.remove_member(session, org, user)
