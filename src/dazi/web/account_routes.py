"""Routes of the people pages: sign-up, log-in, log-out, settings (profile, password, access tokens,
inference quota, organizations and their members), profiles.

Every POST form carries the CSRF token (``require_csrf``); the log-in is rate limited per client IP
and user name.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form
from fastapi.responses import Response

from dazi.accounts.services import TOKEN_ROLES
from dazi.errors import BadRequest, Conflict, Forbidden, InvalidName, NotFound, Unauthorized
from dazi.orgs.models import ROLES
from dazi.quotas.routes import get_quotas
from dazi.web import people, quota_view, ratelimit, sessions, urls
from dazi.web.i18n import marker as N_
from dazi.web.page import Page, PageDep
from dazi.web.routing import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)
TextField = Annotated[str, Form(max_length=500)]


def require_csrf(page: PageDep, csrf_token: Annotated[str, Form(max_length=200)] = "") -> Page:
    cookie = page.request.cookies.get(sessions.CSRF_COOKIE)
    if not sessions.csrf_valid(page.hub.secret, cookie, page.session_key, csrf_token):
        raise Forbidden("The form's security token is missing or stale; reload the page and try again.")
    return page


FormPage = Annotated[Page, Depends(require_csrf)]


def safe_next(target: str | None) -> str:
    """Only same-site paths: ``/x`` but never ``//evil`` or ``/\\evil``."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")) or "\n" in target:
        return "/"
    return target


def login_redirect(page: Page) -> Response:
    return page.redirect("/login?next=" + quote(page.request.url.path, safe="/"))


# -- log-in, sign-up, log-out -------------------------------------------------------------------


@router.get("/login")
def login_form(page: PageDep, next: str = "/") -> Response:
    return page.render("login.html", next=safe_next(next), error=None, name="")


@router.post("/login")
def login(page: FormPage, name: TextField = "", password: TextField = "", next: TextField = "/") -> Response:
    hub = page.hub
    limiter = ratelimit.limiter_for(page.request.app.state)
    window = hub.settings.login_window_seconds
    key = ratelimit.login_key(page.request.client.host if page.request.client else "?", name)
    wait = limiter.retry_after(key, hub.settings.login_max_failures, window)
    if wait:
        error = N_("Too many failed log-ins. Wait a few minutes and try again.")
        return page.render("login.html", status=429, headers={"Retry-After": str(wait)}, next=safe_next(next),
                           error=error, name=name)
    try:
        secret = people.log_in(hub, name, password)
    except Unauthorized:
        limiter.failed(key, window)
        error = N_("Wrong user name or password.")
        return page.render("login.html", status=401, next=safe_next(next), error=error, name=name)
    limiter.succeeded(key)
    page.set_cookie(sessions.SESSION_COOKIE, secret, hub.settings.web_session_days * 86400)
    return page.redirect(safe_next(next))


@router.get("/join")
def join_form(page: PageDep) -> Response:
    return page.render("join.html", error=None, name="", email="", open=page.hub.settings.signup_enabled)


@router.post("/join")
def join(page: FormPage, name: TextField = "", email: TextField = "", password: TextField = "") -> Response:
    try:
        secret = people.sign_up(page.hub, name, email, password)
    except (BadRequest, Conflict) as exc:
        error = _signup_error(exc)
        return page.render("join.html", status=400, error=error, name=name, email=email,
                           open=page.hub.settings.signup_enabled)
    page.set_cookie(sessions.SESSION_COOKIE, secret, page.hub.settings.web_session_days * 86400)
    return page.redirect(urls.namespace(name.strip()))


def _signup_error(exc: Exception) -> str:
    if isinstance(exc, InvalidName):
        return N_("This user name cannot be used: use letters, digits, '-', '_' and '.', start with a letter "
                  "or a digit; some names are reserved.")
    if isinstance(exc, Conflict):
        return N_("This user name or email address is already taken.")
    return N_("Check the email address, and use a password of at least 8 characters.")


@router.post("/logout")
def logout(page: FormPage) -> Response:
    secret = page.request.cookies.get(sessions.SESSION_COOKIE)
    if secret:
        people.log_out(page.hub, secret)
    page.set_cookie(sessions.SESSION_COOKIE, "", 0)
    return page.redirect("/")


# -- settings: access tokens ------------------------------------------------------------------------


@router.get("/settings")
def settings(page: PageDep) -> Response:
    return page.redirect("/settings/profile")


@router.get("/settings/tokens")
def tokens(page: PageDep) -> Response:
    if page.actor is None:
        return login_redirect(page)
    return _tokens_page(page, None, None)


def _tokens_page(page: Page, created: str | None, error: str | None, status: int = 200) -> Response:
    assert page.actor is not None
    data = people.account(page.hub, page.actor)
    return page.render("settings_tokens.html", status=status, headers={"Cache-Control": "no-store"}, data=data,
                       created=created, error=error, roles=TOKEN_ROLES)


@router.post("/settings/tokens")
def create_token(page: FormPage, label: TextField = "", role: TextField = "read") -> Response:
    if page.actor is None:
        return login_redirect(page)
    if role not in TOKEN_ROLES:
        return _tokens_page(page, None, N_("Choose the token's role: read or write."), 400)
    _token, secret = people.create_token(page.hub, page.actor, role, label)
    return _tokens_page(page, secret, None)


@router.post("/settings/tokens/{token_id}/revoke")
def revoke_token(page: FormPage, token_id: int) -> Response:
    if page.actor is None:
        return login_redirect(page)
    with contextlib.suppress(NotFound):  # already revoked, or not theirs: nothing to do, nothing to reveal
        people.revoke_token(page.hub, page.actor, token_id)
    return page.redirect("/settings/tokens")


# -- settings: quota ------------------------------------------------------------------------------


@router.get("/settings/quota")
def quota(page: PageDep) -> Response:
    """The logged-in user's inference limits and use (the counters ``/v1`` and ``GET /api/quota`` use)."""
    if page.actor is None:
        return login_redirect(page)
    data = quota_view.quota_page(page.hub, page.actor, get_quotas(page.request))
    return page.render("settings_quota.html", headers={"Cache-Control": "no-store"}, data=data)


# -- settings: profile and password --------------------------------------------------------------


def _profile_page(page: Page, notice: str | None, error: str | None, status: int = 200,
                  form: dict[str, str] | None = None) -> Response:
    assert page.actor is not None
    data = people.account(page.hub, page.actor)
    values = form or {"fullname": data.user.namespace.fullname, "email": data.user.email}
    return page.render("settings_profile.html", status=status, headers={"Cache-Control": "no-store"}, data=data,
                       notice=notice, error=error, form=values)


@router.get("/settings/profile")
def profile_settings(page: PageDep) -> Response:
    if page.actor is None:
        return login_redirect(page)
    return _profile_page(page, None, None)


@router.post("/settings/profile")
def update_profile(page: FormPage, fullname: TextField = "", email: TextField = "") -> Response:
    if page.actor is None:
        return login_redirect(page)
    try:
        people.update_profile(page.hub, page.actor, fullname, email)
    except Conflict:
        return _profile_page(page, None, N_("This email address is already registered."), 400,
                             {"fullname": fullname, "email": email})
    except BadRequest:
        return _profile_page(page, None, N_("Check the email address; display names have at most 200 characters."),
                             400, {"fullname": fullname, "email": email})
    return _profile_page(page, N_("Your profile has been saved."), None)


@router.post("/settings/password")
def change_password(page: FormPage, current_password: TextField = "", new_password: TextField = "") -> Response:
    if page.actor is None:
        return login_redirect(page)
    try:
        people.change_password(page.hub, page.actor, current_password, new_password)
    except Unauthorized:
        return _profile_page(page, None, N_("The current password is wrong."), 400)
    except BadRequest:
        return _profile_page(page, None, N_("Use a new password of at least 8 characters."), 400)
    return _profile_page(page, N_("Your password has been changed."), None)


# -- settings: organizations ---------------------------------------------------------------------


def _orgs_page(page: Page, error: str | None, status: int = 200, form: dict[str, str] | None = None) -> Response:
    assert page.actor is not None
    data = people.account(page.hub, page.actor)
    return page.render("settings_orgs.html", status=status, headers={"Cache-Control": "no-store"}, data=data,
                       error=error, form=form or {"name": "", "fullname": ""})


@router.get("/settings/organizations")
def org_list(page: PageDep) -> Response:
    if page.actor is None:
        return login_redirect(page)
    return _orgs_page(page, None)


@router.post("/settings/organizations")
def create_org(page: FormPage, name: TextField = "", fullname: TextField = "") -> Response:
    if page.actor is None:
        return login_redirect(page)
    try:
        org = people.create_org(page.hub, page.actor, name, fullname)
    except InvalidName:
        error = N_("This name cannot be used: use letters, digits, '-', '_' and '.', start with a letter or a "
                   "digit; some names are reserved.")
        return _orgs_page(page, error, 400, {"name": name, "fullname": fullname})
    except Conflict:
        return _orgs_page(page, N_("This name is already taken."), 400, {"name": name, "fullname": fullname})
    return page.redirect(urls.namespace(org))


def _members_page(page: Page, org: str, error: str | None, status: int = 200) -> Response:
    assert page.actor is not None
    data = people.org_settings(page.hub, page.actor, org)
    return page.render("org_settings.html", status=status, headers={"Cache-Control": "no-store"}, data=data,
                       error=error, roles=ROLES)


def _members_url(org: str) -> str:
    return f"/organizations/{quote(org, safe='')}/settings"


@router.get("/organizations/{org}/settings")
def org_settings(page: PageDep, org: str) -> Response:
    if page.actor is None:
        return login_redirect(page)
    return _members_page(page, org, None)


def _member_change(page: Page, org: str, user: str, new_role: str | None, change: Callable[[], None]) -> Response:
    try:
        change()
    except NotFound:  # no such user (a missing organization stays a 404: the page below raises it again)
        return _members_page(page, org, N_("There is no user of this name."), 400)
    except Conflict:
        return _members_page(page, org, N_("An organization needs at least one admin: make someone else admin "
                                           "first."), 409)
    except BadRequest:
        return _members_page(page, org, N_("Choose a role: read, write or admin."), 400)
    if new_role != "admin" and page.actor is not None and user.strip().lower() == page.actor.name.lower():
        return page.redirect(urls.namespace(org))  # an admin who stepped down may no longer see the settings
    return page.redirect(_members_url(org))


@router.post("/organizations/{org}/settings/members")
def add_member(page: FormPage, org: str, user: TextField = "", role: TextField = "read") -> Response:
    if page.actor is None:
        return login_redirect(page)
    actor = page.actor
    return _member_change(page, org, user, role, lambda: people.set_member(page.hub, actor, org, user, role))


@router.post("/organizations/{org}/settings/members/{user}/remove")
def remove_member(page: FormPage, org: str, user: str) -> Response:
    if page.actor is None:
        return login_redirect(page)
    actor = page.actor
    return _member_change(page, org, user, None, lambda: people.remove_member(page.hub, actor, org, user))


# -- profiles (routed from ``routes``, after every fixed path) ------------------------------------------


def profile(page: Page, name: str) -> Response:
    data = people.profile(page.hub, page.actor, name)
    return page.render("profile.html", data=data)
