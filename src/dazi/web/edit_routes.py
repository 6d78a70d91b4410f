"""Routes that change repos from the browser: new repo, upload files, edit the README, repo settings.

Every POST carries the CSRF token (``FormPage``); every change is checked by the services
(``editing``). Included after the repo pages of ``routes`` and before ``/{name}``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from dazi.errors import BadRequest, Conflict, InvalidName
from dazi.web import editing, markup, urls
from dazi.web.account_routes import FormPage, TextField, login_redirect
from dazi.web.i18n import marker as N_
from dazi.web.page import Page, PageDep
from dazi.web.routing import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)
LongText = Annotated[str, Form(max_length=editing.MAX_README_CHARS)]
PREFIXES = {"": "model", "/datasets": "dataset"}


def _type(request: Request) -> str:
    return "dataset" if request.url.path.startswith("/datasets/") else "model"


# -- new repo -------------------------------------------------------------------------------------


@router.get("/new")
def new_form(page: PageDep, type: str = "model") -> Response:
    if page.actor is None:
        return login_redirect(page)
    values = {"type": type if type in ("model", "dataset") else "model", "owner": "", "name": "",
              "visibility": "public", "license": ""}
    return _new_page(page, values, None)


def _new_page(page: Page, values: dict[str, str], error: str | None, status: int = 200) -> Response:
    assert page.actor is not None
    return page.render("new_repo.html", status=status, owners=editing.owners(page.hub, page.actor),
                       licenses=editing.LICENSES, values=values, error=error)


@router.post("/new")
def create(
    page: FormPage, type: TextField = "model", owner: TextField = "", name: TextField = "",
    visibility: TextField = "public", license: TextField = "",
) -> Response:  # fmt: skip
    if page.actor is None:
        return login_redirect(page)
    values = {"type": type, "owner": owner, "name": name, "visibility": visibility, "license": license}
    try:
        repo = editing.create_repo(page.hub, page.actor, type, owner, name.strip(), visibility == "private", license)
    except InvalidName:
        error = N_("This name cannot be used: use letters, digits, '-', '_' and '.'.")
        return _new_page(page, values, error, 400)
    except Conflict:
        return _new_page(page, values, N_("A repository with this name already exists."), 409)
    except BadRequest:
        return _new_page(page, values, N_("Check the form: choose a type, an owner and a license."), 400)
    return page.redirect(urls.repo(repo))


# -- upload ---------------------------------------------------------------------------------------


def upload_form(request: Request, page: PageDep, o: str, n: str) -> Response:
    if page.actor is None:
        return login_redirect(page)
    data = editing.writable_page(page.hub, page.actor, _type(request), f"{o}/{n}", "upload")
    return page.render("upload.html", data=data, header=data.header)


def upload(
    request: Request, page: FormPage, o: str, n: str,
    files: Annotated[list[UploadFile], File()], folder: TextField = "", message: TextField = "",
) -> Response:  # fmt: skip
    if page.actor is None:
        return login_redirect(page)
    parts = [(f.filename or "", f.file) for f in files if f.filename]
    result = editing.upload(page.hub, page.actor, _type(request), f"{o}/{n}", parts, folder, message)
    return page.redirect(urls.tree(urls.RepoRef(result.repo_type, result.repo_id), "main", folder.strip().strip("/")))


# -- README ---------------------------------------------------------------------------------------


def readme_form(request: Request, page: PageDep, o: str, n: str) -> Response:
    if page.actor is None:
        return login_redirect(page)
    data = editing.writable_page(page.hub, page.actor, _type(request), f"{o}/{n}", "readme")
    return page.render("edit_readme.html", data=data, header=data.header, preview=None, message="")


def readme_save(
    request: Request, page: FormPage, o: str, n: str,
    text: LongText = "", message: TextField = "", action: TextField = "commit",
) -> Response:  # fmt: skip
    if page.actor is None:
        return login_redirect(page)
    repo_type, repo_id = _type(request), f"{o}/{n}"
    if action == "preview":
        data = editing.writable_page(page.hub, page.actor, repo_type, repo_id, "readme")
        data.readme = text
        html = markup.render_markdown(editing.preview_body(text), data.header.repo, "main", "README.md")
        return page.render("edit_readme.html", data=data, header=data.header, preview=html, message=message)
    result = editing.save_readme(page.hub, page.actor, repo_type, repo_id, text, message)
    return page.redirect(urls.repo(urls.RepoRef(result.repo_type, result.repo_id)))


# -- settings -------------------------------------------------------------------------------------


def settings_form(request: Request, page: PageDep, o: str, n: str) -> Response:
    if page.actor is None:
        return login_redirect(page)
    return _settings_page(page, _type(request), f"{o}/{n}", None)


def _settings_page(page: Page, repo_type: str, repo_id: str, error: str | None, status: int = 200) -> Response:
    assert page.actor is not None
    data = editing.admin_page(page.hub, page.actor, repo_type, repo_id)
    return page.render("repo_settings.html", status=status, data=data, header=data.header, error=error)


def visibility(request: Request, page: FormPage, o: str, n: str, private: TextField = "") -> Response:
    if page.actor is None:
        return login_redirect(page)
    editing.set_private(page.hub, page.actor, _type(request), f"{o}/{n}", private == "on")
    return page.redirect(f"{urls.PREFIX[_type(request)]}/{o}/{n}/settings")


def move(request: Request, page: FormPage, o: str, n: str, owner: TextField = "", name: TextField = "") -> Response:
    if page.actor is None:
        return login_redirect(page)
    repo_type = _type(request)
    try:
        new_id = editing.move(page.hub, page.actor, repo_type, f"{o}/{n}", owner, name)
    except (InvalidName, Conflict):
        error = N_("This name cannot be used or is already taken.")
        return _settings_page(page, repo_type, f"{o}/{n}", error, 400)
    return page.redirect(urls.repo(urls.RepoRef(repo_type, new_id)))


def delete(request: Request, page: FormPage, o: str, n: str, confirm: TextField = "") -> Response:
    if page.actor is None:
        return login_redirect(page)
    repo_type = _type(request)
    try:
        editing.delete(page.hub, page.actor, repo_type, f"{o}/{n}", confirm)
    except BadRequest:
        error = N_("The name you typed does not match: the repository was not deleted.")
        return _settings_page(page, repo_type, f"{o}/{n}", error, 400)
    return page.redirect(urls.namespace(page.actor.name))


for _prefix in PREFIXES:
    _base = f"{_prefix}/{{o}}/{{n}}"
    router.add_api_route(f"{_base}/upload", upload_form, methods=["GET"])
    router.add_api_route(f"{_base}/upload", upload, methods=["POST"])
    router.add_api_route(f"{_base}/edit-readme", readme_form, methods=["GET"])
    router.add_api_route(f"{_base}/edit-readme", readme_save, methods=["POST"])
    router.add_api_route(f"{_base}/settings", settings_form, methods=["GET"])
    router.add_api_route(f"{_base}/settings/visibility", visibility, methods=["POST"])
    router.add_api_route(f"{_base}/settings/move", move, methods=["POST"])
    router.add_api_route(f"{_base}/settings/delete", delete, methods=["POST"])
