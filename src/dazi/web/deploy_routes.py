"""Routes of the deployment pages: the "Deploy" form, a deployment's page and its management forms
(scale, stop, start, delete), and the list of the visitor's deployments.

Thin: every POST carries the CSRF token (``FormPage``), the services check who may do what (a
deployment the visitor may not see is a 404 page), and each change wakes the supervisor and redirects
back with a notice. Included before the repo pages, so ``/deployments/new`` is never read as a repo.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import Response

from dazi.deployments import services
from dazi.deployments.routes import live_for
from dazi.errors import BadRequest, DaziError, NotFound
from dazi.web import deploy_view, tryit
from dazi.web.account_routes import FormPage, TextField, login_redirect
from dazi.web.i18n import marker as N_
from dazi.web.page import Page, PageDep
from dazi.web.repo_view import RepoPage
from dazi.web.routing import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)
NOTICES = {
    "created": N_("The deployment was created: its replicas are starting."),
    "scaled": N_("The number of replicas was changed."),
    "stopped": N_("The deployment was stopped."),
    "started": N_("The deployment is starting."),
}


def live(page: Page) -> services.Live:
    return live_for(page.request.app.state, page.hub.settings, page.base_url, page.actor)


def of_model(page: Page, data: RepoPage) -> list[deploy_view.ListRow]:
    """The "Deployments of this model" of a model page."""
    return deploy_view.for_model(page.hub, page.actor, data, live(page))


def _url(name: str, notice: str | None = None) -> str:
    return f"/deployments/{quote(name, safe='')}" + (f"?done={notice}" if notice else "")


@router.get("/deployments")
def deployment_list(page: PageDep, done: Annotated[str, Query(max_length=20)] = "") -> Response:
    if page.actor is None:
        return login_redirect(page)
    found = deploy_view.list_page(page.hub, page.actor, live(page))
    notice = N_("The deployment was deleted.") if done == "deleted" else None
    return page.render("deployments.html", headers={"Cache-Control": "no-store"}, deployments=found, notice=notice)


# -- new ------------------------------------------------------------------------------------------


@router.get("/deployments/new")
def new_form(page: PageDep, model: Annotated[str, Query(max_length=300)] = "") -> Response:
    if page.actor is None:
        return login_redirect(page)
    values = {"model": model, "name": deploy_view.suggest_name(model) if model else "", "owner": page.actor.name,
              "revision": "main", "replicas": "1", "public": ""}
    return _new_page(page, values, None)


def _new_page(page: Page, values: dict[str, str], error: deploy_view.FormError | None, status: int = 200) -> Response:
    assert page.actor is not None
    form = deploy_view.new_form(page.hub, page.actor, values)
    return page.render("deployment_new.html", status=status, form=form, error=error)


@router.post("/deployments/new")
def create(
    page: FormPage, model: TextField = "", name: TextField = "", owner: TextField = "", revision: TextField = "",
    replicas: TextField = "1", public: TextField = "",
) -> Response:  # fmt: skip
    if page.actor is None:
        return login_redirect(page)
    values = {"model": model, "name": name, "owner": owner, "revision": revision, "replicas": replicas,
              "public": public}
    try:
        created = deploy_view.create(page.hub, page.actor, values)
    except DaziError as exc:
        error = deploy_view.form_error(exc, page.hub.settings.deployments_max_replicas)
        return _new_page(page, values, error, 404 if isinstance(exc, NotFound) else exc.status_code)
    deploy_view.wake(page.request.app.state)
    return page.redirect(_url(created, "created"))


# -- one deployment -------------------------------------------------------------------------------


@router.get("/deployments/{name}")
def deployment(page: PageDep, name: str, done: Annotated[str, Query(max_length=20)] = "") -> Response:
    return _deployment_page(page, name, NOTICES.get(done), None)


def _deployment_page(page: Page, name: str, notice: str | None, error: str | None, status: int = 200) -> Response:
    catalog = tryit.catalog(page.request.app.state, page.hub)
    data = deploy_view.deployment_page(page.hub, page.actor, name, live(page), catalog)
    return page.render("deployment.html", status=status, headers={"Cache-Control": "no-store"}, data=data,
                       notice=notice, error=error)


def _change(page: Page, name: str, notice: str, action: deploy_view.Action) -> Response:
    if page.actor is None:
        return login_redirect(page)
    try:
        deploy_view.change(page.hub, page.actor, name, action)
    except BadRequest:
        error = N_("Replicas must be a whole number from 1 to %(max)s.")
        return _deployment_page(page, name, None, error, 400)
    deploy_view.wake(page.request.app.state)
    return page.redirect(_url(name, notice))


@router.post("/deployments/{name}/scale")
def scale(page: FormPage, name: str, replicas: TextField = "") -> Response:
    hub = page.hub
    wanted = int(replicas) if replicas.strip().isdigit() else -1
    return _change(page, name, "scaled",
                   lambda session, actor: services.scale_deployment(session, actor, name, wanted, hub=hub))


@router.post("/deployments/{name}/stop")
def stop(page: FormPage, name: str) -> Response:
    return _change(page, name, "stopped", lambda session, actor: services.stop_deployment(session, actor, name))


@router.post("/deployments/{name}/start")
def start(page: FormPage, name: str) -> Response:
    return _change(page, name, "started", lambda session, actor: services.start_deployment(session, actor, name))


@router.post("/deployments/{name}/delete")
def delete(page: FormPage, name: str, confirm: TextField = "") -> Response:
    if page.actor is None:
        return login_redirect(page)
    if confirm.strip() != name:
        error = N_("The name you typed does not match: the deployment was not deleted.")
        return _deployment_page(page, name, None, error, 400)
    deploy_view.delete(page.hub, page.actor, name)
    deploy_view.wake(page.request.app.state)
    return page.redirect("/deployments?done=deleted")
