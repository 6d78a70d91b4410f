"""Users, passwords and access tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from dazi.accounts.models import Namespace, Token, User
from dazi.errors import BadRequest, Conflict, NotFound, Unauthorized
from dazi.repos.names import check_namespace

TOKEN_PREFIX = "dazi_"
TOKEN_ROLES = ("read", "write")
_hasher = PasswordHasher()
_LAST_USED_RESOLUTION = dt.timedelta(seconds=60)


@dataclass
class Actor:
    """Who is making a request. ``None`` stands for an anonymous visitor."""

    user_id: int
    name: str
    namespace_id: int
    is_admin: bool
    token_role: str  # what the credentials allow: "read" or "write"
    token_label: str = ""
    org_roles: dict[int, str] = field(default_factory=dict)  # org namespace id -> role

    @property
    def can_write(self) -> bool:
        return self.token_role == "write"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def namespace_taken(session: Session, name: str) -> bool:
    stmt = select(Namespace.id).where(Namespace.name_lower == name.lower())
    return session.execute(stmt).first() is not None


def create_namespace(session: Session, name: str, kind: str, fullname: str = "") -> Namespace:
    check_namespace(name)
    if namespace_taken(session, name):
        raise Conflict(f"The name {name!r} is already taken.")
    ns = Namespace(name=name, name_lower=name.lower(), kind=kind, fullname=fullname)
    session.add(ns)
    session.flush()
    return ns


def create_user(
    session: Session, name: str, email: str, password: str | None = None, *, is_admin: bool = False
) -> User:
    if "@" not in email or len(email) > 320:
        raise BadRequest(f"Invalid email address {email[:100]!r}.")
    if session.execute(select(User.id).where(func.lower(User.email) == email.lower())).first():
        raise Conflict(f"The email address {email!r} is already registered.")
    if password is not None and len(password) < 8:
        raise BadRequest("Passwords need at least 8 characters.")
    ns = create_namespace(session, name, "user")
    user = User(
        namespace_id=ns.id,
        email=email,
        password_hash=hash_password(password) if password else None,
        is_admin=is_admin,
    )
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, name: str) -> User:
    stmt = select(User).join(Namespace).where(Namespace.name_lower == name.lower())
    user = session.execute(stmt).scalar_one_or_none()
    if user is None:
        raise NotFound(f"No user named {name!r}.")
    return user


def count_users(session: Session) -> int:
    return int(session.execute(select(func.count(User.id))).scalar_one())


def authenticate_password(session: Session, name: str, password: str) -> User:
    try:
        user = get_user(session, name)
    except NotFound:
        _hasher.hash(password)  # same work either way: no user enumeration by timing
        raise Unauthorized("Invalid user name or password.") from None
    if not verify_password(user.password_hash, password):
        raise Unauthorized("Invalid user name or password.")
    return user


def create_token(session: Session, user: User, role: str, label: str = "") -> tuple[Token, str]:
    """Create a token; returns the row and the secret, which is never stored or shown again."""
    if role not in TOKEN_ROLES:
        raise BadRequest(f"Token role must be one of {', '.join(TOKEN_ROLES)}.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = Token(
        user_id=user.id,
        label=(label or f"{role} token")[:100],
        role=role,
        token_hash=hash_token(secret),
        token_prefix=secret[:12],
    )
    session.add(token)
    session.flush()
    return token, secret


def list_tokens(session: Session, user: User) -> list[Token]:
    stmt = select(Token).where(Token.user_id == user.id).order_by(Token.id)
    return list(session.execute(stmt).scalars())


def revoke_token(session: Session, user: User, token_ref: str) -> Token:
    """Revoke by id, label, secret or prefix; raises NotFound if nothing matches one token."""
    candidates = [
        t
        for t in list_tokens(session, user)
        if t.revoked_at is None
        and (
            str(t.id) == token_ref
            or t.label == token_ref
            or t.token_prefix == token_ref
            or t.token_hash == hash_token(token_ref)
        )
    ]
    if len(candidates) != 1:
        raise NotFound(
            f"No single active token of {user.name!r} matches {token_ref!r}."
            if not candidates
            else f"{len(candidates)} tokens match {token_ref!r}; give the token id."
        )
    candidates[0].revoked_at = dt.datetime.now(dt.UTC)
    return candidates[0]


def actor_for_token(session: Session, secret: str) -> tuple[Actor, int | None]:
    """Resolve a bearer secret to an actor; raises Unauthorized.

    Also returns the token's id when its last-used time is stale (older than a minute), so that the
    caller records the use in a separate, short write (reads never take the write lock).
    """
    token = session.execute(select(Token).where(Token.token_hash == hash_token(secret))).scalar_one_or_none()
    if token is None or token.revoked_at is not None:
        raise Unauthorized("Invalid credentials in Authorization header")
    now = dt.datetime.now(dt.UTC)
    stale = token.last_used_at is None or now - token.last_used_at > _LAST_USED_RESOLUTION
    return actor_for_user(session, token.user, token.role, token.label), token.id if stale else None


def record_token_use(session: Session, token_id: int) -> None:
    session.execute(update(Token).where(Token.id == token_id).values(last_used_at=dt.datetime.now(dt.UTC)))


def actor_for_user(session: Session, user: User, role: str = "write", label: str = "") -> Actor:
    from dazi.orgs.services import roles_of

    return Actor(
        user_id=user.id,
        name=user.name,
        namespace_id=user.namespace_id,
        is_admin=user.is_admin,
        token_role=role,
        token_label=label,
        org_roles=roles_of(session, user),
    )


def update_profile(session: Session, user: User, fullname: str, email: str) -> User:
    """Change the display name (the namespace's full name) and the email address."""
    fullname, email = fullname.strip(), email.strip()
    if len(fullname) > 200:
        raise BadRequest("Display names have at most 200 characters.")
    if "@" not in email or len(email) > 320:
        raise BadRequest(f"Invalid email address {email[:100]!r}.")
    if email.lower() != user.email.lower():
        taken = select(User.id).where(func.lower(User.email) == email.lower(), User.id != user.id)
        if session.execute(taken).first():
            raise Conflict(f"The email address {email!r} is already registered.")
    user.email = email
    user.namespace.fullname = fullname
    session.flush()
    return user


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """Set a new password; the current one must be given (raises Unauthorized otherwise)."""
    if not verify_password(user.password_hash, current):
        raise Unauthorized("The current password is wrong.")
    if len(new) < 8:
        raise BadRequest("Passwords need at least 8 characters.")
    user.password_hash = hash_password(new)
    session.flush()
