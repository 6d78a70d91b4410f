"""Routes of the web site (thin: parse, call a page-data function, render).

This router is included last, after the git, ModelScope and Hugging Face routers, so protocol URLs
(``/api/…``, ``/{o}/{n}/resolve/…``, ``/{o}/{n}.git/…``, ``/{o}/{n}/info/refs``…) never reach it.
Order inside it matters too: fixed paths, then repo pages, then ``/{name}``, then the 404 catch-all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from dazi.errors import NotFound
from dazi.hfcompat.paths import raw_segments
from dazi.web import (
    account_routes,
    browse,
    deploy_routes,
    edit_routes,
    files_view,
    like_routes,
    repo_view,
    tables,
    tryit,
    viewer,
)
from dazi.web.page import PageDep
from dazi.web.routing import BrowserOnlyRoute, WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)
STATIC_DIR = (Path(__file__).parent / "static").resolve()
REPO_PREFIXES = {"": "model", "/datasets": "dataset"}


@router.get("/static/{path:path}")
def static(path: str) -> Response:
    file = (STATIC_DIR / path).resolve()
    if not file.is_relative_to(STATIC_DIR) or not file.is_file():
        raise NotFound("No such file.")
    headers = {"Cache-Control": "public, max-age=604800", "X-Content-Type-Options": "nosniff"}
    return FileResponse(file, headers=headers)


router.include_router(account_routes.router)
router.include_router(deploy_routes.router)  # before the repo pages: /deployments/new is no model


# -- browsing ----------------------------------------------------------------------------------


@router.get("/")
def home(page: PageDep) -> Response:
    return page.render("home.html", sections=browse.home(page.hub, page.actor))


@router.get("/models")
def models(request: Request, page: PageDep) -> Response:
    data = browse.list_page(page.hub, page.actor, "model", browse.ListParams.from_query(request.query_params))
    return page.render("list.html", data=data, sorts=browse.SORTS, facet_names=browse.FACETS, nav="models")


@router.get("/datasets")
def datasets(request: Request, page: PageDep) -> Response:
    data = browse.list_page(page.hub, page.actor, "dataset", browse.ListParams.from_query(request.query_params))
    return page.render("list.html", data=data, sorts=browse.SORTS, facet_names=browse.FACETS, nav="datasets")


@router.get("/search")
def search(page: PageDep, q: Annotated[str, Query(max_length=500)] = "") -> Response:
    results = browse.search(page.hub, page.actor, q)
    return page.render("search.html", results=results, search_value=results.query)


# -- repo pages (models at /{o}/{n}, datasets at /datasets/{o}/{n}) --------------------------------


def _repo_path(request: Request, marker: str) -> tuple[str, str, str, list[str]]:
    """``[/datasets]/{o}/{n}/{marker}/{rev}/{path…}`` from the raw path: (type, repo id, rev, path parts)."""
    segments = raw_segments(request)
    repo_type = "model"
    if segments[0] == "datasets":
        repo_type, segments = "dataset", segments[1:]
    if len(segments) < 4 or segments[2] != marker or not segments[3]:
        raise NotFound("Not found.")
    return repo_type, f"{segments[0]}/{segments[1]}", segments[3], segments[4:]


def repo_main(page: PageDep, o: str, n: str, repo_type: str) -> Response:
    catalog = tryit.catalog(page.request.app.state, page.hub)
    data = repo_view.repo_page(page.hub, page.actor, repo_type, f"{o}/{n}", page.base_url, catalog)
    deployments = deploy_routes.of_model(page, data)
    return page.render("repo.html", data=data, header=data.header, deployments=deployments)


def tree(request: Request, page: PageDep) -> Response:
    repo_type, repo_id, rev, parts = _repo_path(request, "tree")
    data = files_view.tree_page(page.hub, page.actor, repo_type, repo_id, rev, "/".join(parts))
    return page.render("tree.html", data=data, header=data.header)


def tree_root(request: Request, o: str, n: str) -> Response:
    return RedirectResponse(f"{request.url.path}/main", status_code=307)


def blob(request: Request, page: PageDep) -> Response:
    repo_type, repo_id, rev, parts = _repo_path(request, "blob")
    data = files_view.blob_page(page.hub, page.actor, repo_type, repo_id, rev, "/".join(parts))
    return page.render("blob.html", data=data, header=data.header)


def commits(request: Request, page: PageDep, p: Annotated[int, Query(ge=1, le=10_000)] = 1) -> Response:
    repo_type, repo_id, rev, _parts = _repo_path(request, "commits")
    data = files_view.commits_page(page.hub, page.actor, repo_type, repo_id, rev, p)
    return page.render("commits.html", data=data, header=data.header)


def commit(request: Request, page: PageDep) -> Response:
    repo_type, repo_id, sha, _parts = _repo_path(request, "commit")
    data = files_view.commit_page(page.hub, page.actor, repo_type, repo_id, sha)
    return page.render("commit.html", data=data, header=data.header)


for _prefix, _type in REPO_PREFIXES.items():
    router.add_api_route(f"{_prefix}/{{o}}/{{n}}/tree", tree_root, methods=["GET"])
    router.add_api_route(f"{_prefix}/{{o}}/{{n}}/tree/{{rest:path}}", tree, methods=["GET"])
    router.add_api_route(f"{_prefix}/{{o}}/{{n}}/blob/{{rest:path}}", blob, methods=["GET"])
    router.add_api_route(f"{_prefix}/{{o}}/{{n}}/commits/{{rest:path}}", commits, methods=["GET"])
    router.add_api_route(f"{_prefix}/{{o}}/{{n}}/commit/{{rest:path}}", commit, methods=["GET"])


@router.get("/{o}/{n}/lineage")
def lineage(page: PageDep, o: str, n: str) -> Response:
    data = repo_view.lineage_page(page.hub, page.actor, f"{o}/{n}")
    return page.render("lineage.html", data=data, header=data.header)


def dataset_viewer(
    request: Request,
    page: PageDep,
    file: Annotated[str, Query(max_length=1000)] = "",
    p: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    _type, repo_id, rev, _parts = _repo_path(request, "viewer")
    data = viewer.viewer_page(page.hub, page.actor, repo_id, rev, file, p)
    return page.render("viewer.html", data=data, header=data.header, max_text_bytes=tables.MAX_TEXT_BYTES)


@router.get("/datasets/{o}/{n}/viewer")
def dataset_viewer_root(request: Request, o: str, n: str) -> Response:
    return RedirectResponse(f"{request.url.path}/main", status_code=307)


router.add_api_route("/datasets/{o}/{n}/viewer/{rest:path}", dataset_viewer, methods=["GET"])


@router.get("/datasets/{o}/{n}")
def dataset_page(page: PageDep, o: str, n: str) -> Response:
    return repo_main(page, o, n, "dataset")


router.include_router(edit_routes.router)  # after the dataset pages (``/datasets/{o}/upload`` is a dataset)
router.include_router(like_routes.router)


# -- people, then models, then nothing -------------------------------------------------------------


@router.get("/{name}")
def profile(page: PageDep, name: str) -> Response:
    return account_routes.profile(page, name)


@router.get("/{o}/{n}")
def model_page(page: PageDep, o: str, n: str) -> Response:
    return repo_main(page, o, n, "model")


def not_found(request: Request, path: str) -> Response:
    """Unknown pages, for browsers: an HTML 404 (``BrowserOnlyRoute``: API clients never get here)."""
    if path.endswith("/") and path.strip("/"):
        return RedirectResponse("/" + path.rstrip("/"), status_code=308)
    raise NotFound("No such page.")


router.routes.append(BrowserOnlyRoute("/{path:path}", not_found, methods=["GET"], include_in_schema=False))
