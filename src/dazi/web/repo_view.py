"""Data of a repo's main page: the rendered card, the metadata sidebar, snippets, downloads, lineage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from dazi.accounts.services import Actor
from dazi.hub import Hub
from dazi.inference.catalog import Catalog
from dazi.likes import services as likes
from dazi.repos import downloads, listing
from dazi.repos import services as repos
from dazi.repos.cards import RELATIONS, Card, parse_card
from dazi.repos.models import Repo
from dazi.repos.services import CommitInfo
from dazi.web import charts, markup, safetensors, snippets, tryit

MAX_TENSOR_FILES = 64
MAX_ANCESTOR_DEPTH = 4
_KNOWN_KEYS = {
    "license", "pipeline_tag", "library_name", "language", "datasets", "base_model", "base_model_relation",
    "tags", "chinese_name", "display_name", "pretty_name", "tasks", "task_categories",
}  # fmt: skip


@dataclass
class RepoHeader:
    """The title, tabs and revision switcher shared by every page of a repo."""

    repo: Repo
    tab: str  # "card" | "files" | "commits" | "lineage"
    revision: str = "main"
    branches: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    liked: bool | None = None  # whether the viewer likes it; None: no like button on this tab


@dataclass
class Metadata:
    license: str | None
    pipeline_tag: str | None
    library: str | None
    languages: list[str]
    datasets: list[str]
    tags: list[str]
    other: list[tuple[str, str]]  # remaining scalar keys of the front matter, shown as text


@dataclass
class Lineage:
    ancestors: list[list[tuple[str, Repo | None]]]  # levels from the direct bases upwards
    counts: dict[str, int]  # relation -> visible derivatives
    groups: dict[str, list[Repo]] = field(default_factory=dict)
    more: dict[str, bool] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass
class RepoPage:
    header: RepoHeader
    card_html: str
    card_error: str | None
    metadata: Metadata
    last_commit: CommitInfo
    file_count: int
    chart: charts.Chart
    snippets: list[snippets.Snippet]
    tensors: safetensors.TensorSummary | None
    lineage: Lineage | None
    try_it: tryit.TryIt | None = None


def header(session: Session, repo: Repo, tab: str, revision: str = "main") -> RepoHeader:
    branches: list[str] = []
    tags: list[str] = []
    for ref in repos.refs(session, repo):
        kind, _, name = ref.name.removeprefix("refs/").partition("/")
        (branches if kind == "heads" else tags if kind == "tags" else []).append(name)
    return RepoHeader(repo, tab, revision, branches, tags)


def metadata(card: Card, tags: list[str]) -> Metadata:
    prefixed = ("license:", "language:", "dataset:", "base_model:", "task_categories:", "region:", "format:")
    free = [t for t in tags if not t.startswith(prefixed) and t not in (card.pipeline_tag, card.library_name)]
    free = [t for t in free if t not in card.strings("language")]
    other = []
    for key, value in card.data.items():
        if key in _KNOWN_KEYS:
            continue
        shown = _scalar_text(value)
        if shown:
            other.append((str(key)[:60], shown))
    return Metadata(
        license=card.license,
        pipeline_tag=card.pipeline_tag,
        library=card.library_name,
        languages=card.strings("language"),
        datasets=card.strings("datasets"),
        tags=free,
        other=other[:20],
    )


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool | int | float | str):
        return str(value)[:200]
    if isinstance(value, list) and value and all(isinstance(v, bool | int | float | str) for v in value):
        return ", ".join(str(v) for v in value)[:200]
    return ""


def lineage(session: Session, actor: Actor | None, repo: Repo, per_relation: int) -> Lineage:
    """Visible ancestors (declared bases, then theirs) and visible derivatives grouped by relation."""
    levels: list[list[tuple[str, Repo | None]]] = []
    seen = {repo.repo_id_lower}
    current = [repo]
    for _depth in range(MAX_ANCESTOR_DEPTH):
        wanted = [link.base_repo_id_lower for r in current for link in listing.base_links(session, r)]
        wanted = [w for w in dict.fromkeys(wanted) if w not in seen]
        if not wanted:
            break
        found = listing.visible_by_ids(session, actor, "model", wanted)
        levels.append([(found[w].repo_id if w in found else w, found.get(w)) for w in wanted])
        seen.update(wanted)
        current = list(found.values())
    counts = listing.derivative_counts(session, actor, repo)
    result = Lineage(levels, {rel: counts[rel] for rel in RELATIONS if counts.get(rel)})
    if per_relation:
        for relation in result.counts:
            rows, more = listing.derivatives(session, actor, repo, relation, per_relation)
            result.groups[relation], result.more[relation] = rows, more
    return result


def repo_page(
    hub: Hub, actor: Actor | None, repo_type: str, repo_id: str, base_url: str, catalog: Catalog | None = None
) -> RepoPage:
    with hub.db.read() as session:
        repo = repos.get_repo_for(session, actor, repo_type, repo_id)
        head = repos.resolve_revision(session, repo, repos.DEFAULT_BRANCH)
        card = parse_card(repos.read_small_file(session, repo, head, "README.md"))
        commits, _more = repos.list_commits(session, repo, head, 0, 1)
        files = [e for e in repos.list_tree(session, repo, head, "", True) if e.type == "file"]
        small_tensors = {
            e.path: repos.read_small_file(session, repo, head, e.path)
            for e in files
            if e.path.endswith(".safetensors") and not e.lfs_oid
        }
        tags = repos.tags_of(session, repo)
        top = header(session, repo, "card")
        top.liked = likes.has_liked(session, actor, repo)
        tree = lineage(session, actor, repo, 0) if repo.type == "model" else None
        try_it = tryit.for_repo(catalog, session, repo, head) if catalog is not None else None
    tensor_files = [e for e in files if e.path.endswith(".safetensors")][:MAX_TENSOR_FILES]
    return RepoPage(
        header=top,
        card_html=markup.render_markdown(card.body, repo, repos.DEFAULT_BRANCH, "README.md"),
        card_error=card.error,
        metadata=metadata(card, tags),
        last_commit=commits[0],
        file_count=len(files),
        chart=charts.downloads_chart(downloads.daily(hub, repo.id)),
        snippets=snippets.for_repo(base_url, repo.type, repo.repo_id, card.pipeline_tag, card.library_name),
        tensors=_tensor_summary(hub, tensor_files, small_tensors) if repo.type == "model" else None,
        lineage=tree,
        try_it=try_it,
    )


def _tensor_summary(hub: Hub, entries: list[Any], small: dict[str, bytes | None]) -> safetensors.TensorSummary | None:
    """The sum over every safetensors file (headers only; LFS headers by ranged reads, cached)."""
    total = safetensors.EMPTY
    for entry in entries:
        if entry.lfs_oid:
            part = safetensors.from_blob(hub.blobs, entry.lfs_oid, entry.size)
        else:
            data = small.get(entry.path)
            part = safetensors.from_bytes(data) if data else None
        if part is not None:
            total = total + part
    return total if total.tensors else None


@dataclass
class LineagePage:
    header: RepoHeader
    lineage: Lineage


def lineage_page(hub: Hub, actor: Actor | None, repo_id: str, per_relation: int = 100) -> LineagePage:
    with hub.db.read() as session:
        repo = repos.get_repo_for(session, actor, "model", repo_id)
        return LineagePage(header(session, repo, "lineage"), lineage(session, actor, repo, per_relation))
