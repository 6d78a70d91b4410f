"""Data of the browsing pages: the home page, the model and dataset lists with facets, search."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session
from starlette.datastructures import QueryParams

from dazi.accounts.services import Actor
from dazi.hub import Hub
from dazi.repos import listing
from dazi.repos.models import Repo
from dazi.web import urls
from dazi.web.i18n import marker as N_

PAGE_SIZE = 30
MAX_PAGE = 1000
# web sort name -> (listing sort, label)
SORTS = {
    "trending": ("trendingScore", N_("Trending")),
    "downloads": ("downloads", N_("Most downloads")),
    "likes": ("likes", N_("Most likes")),
    "created": ("createdAt", N_("Newest")),
    "updated": ("lastModified", N_("Recently updated")),
}
FACETS = (
    ("pipeline_tag", N_("Tasks")),
    ("library", N_("Libraries")),
    ("license", N_("Licenses")),
    ("language", N_("Languages")),
    ("tag", N_("Tags")),
    ("owner", N_("Owners")),
)


@dataclass
class RepoItem:
    """One repo in a list: the row plus its tags."""

    repo: Repo
    tags: list[str]


@dataclass(frozen=True)
class ListParams:
    search: str = ""
    pipeline_tag: str = ""
    library: str = ""
    license: str = ""
    language: str = ""
    tag: str = ""
    owner: str = ""
    sort: str = "trending"
    page: int = 1

    @classmethod
    def from_query(cls, params: QueryParams) -> ListParams:
        values = {name: (params.get(name) or "").strip()[:200] for name in ("search", *dict(FACETS))}
        sort = params.get("sort") or "trending"
        try:
            page = min(max(int(params.get("p") or 1), 1), MAX_PAGE)
        except ValueError:
            page = 1
        return cls(**values, sort=sort if sort in SORTS else "trending", page=page)

    def query(self, repo_type: str) -> listing.RepoQuery:
        filters = [f"language:{self.language}"] if self.language else []
        if self.tag:
            filters.append(self.tag)
        return listing.RepoQuery(
            repo_type=repo_type,
            search=[self.search] if self.search else [],
            author=self.owner or None,
            filters=filters,
            sort=SORTS[self.sort][0],
            offset=(self.page - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
            pipeline_tag=self.pipeline_tag or None,
            library=self.library or None,
            license=self.license or None,
        )

    def url(self, repo_type: str, **changes: Any) -> str:
        """This list with some parameters changed; any change but the page goes back to page 1."""
        if "page" not in changes:
            changes["page"] = 1
        new = replace(self, **changes)
        params = {k: v for k, v in vars(new).items() if k not in ("page", "sort")}
        return urls.listing(
            repo_type, **params, sort=None if new.sort == "trending" else new.sort, p=new.page if new.page > 1 else None
        )

    @property
    def active(self) -> list[tuple[str, str]]:
        """The facet filters in use: ``(facet, value)``."""
        return [(name, getattr(self, name)) for name, _label in FACETS if getattr(self, name)]


@dataclass
class ListPage:
    repo_type: str
    params: ListParams
    items: list[RepoItem]
    total: int
    facets: dict[str, list[tuple[str, int]]]
    pages: int

    @property
    def page_numbers(self) -> list[int]:
        """Page links around the current page: first, last and two on each side (0 is a gap)."""
        current, last = self.params.page, self.pages
        wanted = sorted({1, last, *range(max(1, current - 2), min(last, current + 2) + 1)})
        out: list[int] = []
        for number in wanted:
            if out and number > out[-1] + 1:
                out.append(0)
            out.append(number)
        return out


@dataclass
class Section:
    title: str
    repo_type: str
    sort: str
    items: list[RepoItem] = field(default_factory=list)


def items_of(session: Session, rows: list[Repo]) -> list[RepoItem]:
    tags = listing.tags_for(session, [r.id for r in rows])
    return [RepoItem(r, tags[r.id]) for r in rows]


def list_page(hub: Hub, actor: Actor | None, repo_type: str, params: ListParams) -> ListPage:
    query = params.query(repo_type)
    with hub.db.read() as session:
        rows, _more = listing.list_repos(session, actor, query)
        total = listing.count_repos(session, actor, query)
        facets = listing.facets(session, actor, replace(query, offset=0))
        items = items_of(session, rows)
    pages = max(1, min(MAX_PAGE, -(-total // PAGE_SIZE)))
    return ListPage(repo_type, params, items, total, facets, pages)


def home(hub: Hub, actor: Actor | None, per_section: int = 6) -> list[Section]:
    sections = []
    for repo_type, sort, title in (
        ("model", "trending", N_("Trending models")),
        ("dataset", "trending", N_("Trending datasets")),
        ("model", "created", N_("New models")),
        ("dataset", "created", N_("New datasets")),
        ("model", "downloads", N_("Most downloaded models")),
        ("dataset", "downloads", N_("Most downloaded datasets")),
    ):
        sections.append(Section(title, repo_type, sort))
    with hub.db.read() as session:
        for section in sections:
            query = listing.RepoQuery(repo_type=section.repo_type, sort=SORTS[section.sort][0], limit=per_section)
            rows, _more = listing.list_repos(session, actor, query)
            section.items = items_of(session, rows)
    return sections


@dataclass
class SearchResults:
    query: str
    models: list[RepoItem]
    model_count: int
    datasets: list[RepoItem]
    dataset_count: int


def search(hub: Hub, actor: Actor | None, text: str, per_type: int = 10) -> SearchResults:
    text = text.strip()[:200]
    found: dict[str, tuple[list[RepoItem], int]] = {}
    with hub.db.read() as session:
        for repo_type in ("model", "dataset"):
            if not text:
                found[repo_type] = ([], 0)
                continue
            query = listing.RepoQuery(repo_type=repo_type, search=[text], sort="trendingScore", limit=per_type)
            rows, _more = listing.list_repos(session, actor, query)
            found[repo_type] = (items_of(session, rows), listing.count_repos(session, actor, query))
    return SearchResults(text, *found["model"], *found["dataset"])
