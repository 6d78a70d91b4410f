"""Like and unlike buttons of the repo pages (POST forms with the CSRF token; anonymous → log in)."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from dazi.likes import services as likes
from dazi.web import urls
from dazi.web.account_routes import FormPage
from dazi.web.routing import WebRoute

router = APIRouter(route_class=WebRoute, include_in_schema=False)


def _repo_type(request: Request) -> str:
    return "dataset" if request.url.path.startswith("/datasets/") else "model"


def _toggle(request: Request, page: FormPage, o: str, n: str, liked: bool) -> Response:
    repo_type = _repo_type(request)
    back = urls.repo(urls.RepoRef(repo_type, f"{o}/{n}"))
    if page.actor is None:
        return page.redirect("/login?next=" + quote(back, safe="/"))
    with page.hub.db.write() as session:
        repo = (likes.like if liked else likes.unlike)(session, page.actor, repo_type, f"{o}/{n}")
        back = urls.repo(repo)
    return page.redirect(back)


def like(request: Request, page: FormPage, o: str, n: str) -> Response:
    return _toggle(request, page, o, n, True)


def unlike(request: Request, page: FormPage, o: str, n: str) -> Response:
    return _toggle(request, page, o, n, False)


for _prefix in ("", "/datasets"):
    router.add_api_route(f"{_prefix}/{{o}}/{{n}}/like", like, methods=["POST"])
    router.add_api_route(f"{_prefix}/{{o}}/{{n}}/unlike", unlike, methods=["POST"])
