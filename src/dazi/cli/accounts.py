"""``dazi users``, ``dazi tokens``, ``dazi orgs``: account administration."""

from __future__ import annotations

from typing import Annotated

import typer

from dazi.cli._common import DataDir, fail, opened_hub, say

users_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
tokens_app = typer.Typer(help="Manage access tokens (shown once, stored hashed).", no_args_is_help=True)
orgs_app = typer.Typer(help="Manage organizations and their members.", no_args_is_help=True)


@users_app.command("create")
def users_create(
    name: str,
    email: Annotated[str, typer.Option("--email", help="Email address.")],
    password: Annotated[str | None, typer.Option("--password", help="Password (min. 8 characters).")] = None,
    admin: Annotated[bool, typer.Option("--admin", help="Make the user a site administrator.")] = False,
    data_dir: DataDir = None,
) -> None:
    """Create a user."""
    from dazi.accounts.services import create_user

    with opened_hub(data_dir) as hub, hub.db.write() as session:
        user = create_user(session, name, email, password, is_admin=admin)
        say(f"created user {user.name}" + (" (administrator)" if admin else ""))
        typer.echo(user.name)


@users_app.command("set-password")
def users_set_password(
    name: str,
    password: Annotated[str, typer.Option("--password", prompt=True, hide_input=True, help="New password.")],
    data_dir: DataDir = None,
) -> None:
    """Set a user's password."""
    from dazi.accounts.services import get_user, hash_password

    if len(password) < 8:
        fail("passwords need at least 8 characters")
    with opened_hub(data_dir) as hub, hub.db.write() as session:
        get_user(session, name).password_hash = hash_password(password)
        say(f"password of {name} updated")


@users_app.command("list")
def users_list(data_dir: DataDir = None) -> None:
    """List users."""
    from sqlalchemy import select

    from dazi.accounts.models import User

    with opened_hub(data_dir) as hub, hub.db.read() as session:
        for user in session.execute(select(User).order_by(User.id)).scalars():
            typer.echo(f"{user.name}\t{user.email}\t{'admin' if user.is_admin else ''}".rstrip())


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="The user who owns the token.")],
    role: Annotated[str, typer.Option("--role", help="read or write.")] = "read",
    label: Annotated[str, typer.Option("--label", help="A name to recognise the token by.")] = "",
    data_dir: DataDir = None,
) -> None:
    """Create an access token; the token alone is the last line of stdout."""
    from dazi.accounts.services import create_token, get_user

    with opened_hub(data_dir) as hub, hub.db.write() as session:
        token, secret = create_token(session, get_user(session, name), role, label)
        say(f"created {role} token #{token.id} ({token.label}) for {name}; it is shown only once:")
        typer.echo(secret)


@tokens_app.command("list")
def tokens_list(name: str, data_dir: DataDir = None) -> None:
    """List a user's tokens (never the secrets)."""
    from dazi.accounts.services import get_user, list_tokens

    with opened_hub(data_dir) as hub, hub.db.read() as session:
        for t in list_tokens(session, get_user(session, name)):
            state = "revoked" if t.revoked_at else "active"
            used = t.last_used_at.isoformat(timespec="seconds") if t.last_used_at else "never"
            typer.echo(f"{t.id}\t{t.token_prefix}…\t{t.role}\t{state}\tlast used {used}\t{t.label}")


@tokens_app.command("revoke")
def tokens_revoke(
    name: Annotated[str, typer.Argument(help="The user who owns the token.")],
    token: Annotated[str, typer.Argument(help="Token id, label, prefix or the token itself.")],
    data_dir: DataDir = None,
) -> None:
    """Revoke a token."""
    from dazi.accounts.services import get_user, revoke_token

    with opened_hub(data_dir) as hub, hub.db.write() as session:
        revoked = revoke_token(session, get_user(session, name), token)
        say(f"revoked token #{revoked.id} ({revoked.label}) of {name}")


@orgs_app.command("create")
def orgs_create(
    org: str,
    owner: Annotated[str, typer.Option("--owner", help="User who becomes the organization's admin.")],
    data_dir: DataDir = None,
) -> None:
    """Create an organization."""
    from dazi.accounts.services import get_user
    from dazi.orgs.services import create_org

    with opened_hub(data_dir) as hub, hub.db.write() as session:
        created = create_org(session, org, get_user(session, owner))
        say(f"created organization {created.name} with {owner} as admin")
        typer.echo(created.name)


@orgs_app.command("add-member")
def orgs_add_member(
    org: str,
    name: str,
    role: Annotated[str, typer.Option("--role", help="read, write or admin.")] = "read",
    data_dir: DataDir = None,
) -> None:
    """Add a member to an organization (or change their role)."""
    from dazi.accounts.services import get_user
    from dazi.orgs.services import get_org, set_member

    with opened_hub(data_dir) as hub, hub.db.write() as session:
        set_member(session, get_org(session, org), get_user(session, name), role)
        say(f"{name} is now {role} in {org}")


@orgs_app.command("remove-member")
def orgs_remove_member(org: str, name: str, data_dir: DataDir = None) -> None:
    """Remove a member from an organization."""
    from dazi.accounts.services import get_user
    from dazi.orgs.services import get_org, remove_member

    with opened_hub(data_dir) as hub, hub.db.write() as session:
        remove_member(session, get_org(session, org), get_user(session, name))
        say(f"{name} removed from {org}")
