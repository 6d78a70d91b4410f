"""Download counting: one count per GET of a repo's "query file", kept per day."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update

from dazi.db import upsert
from dazi.hub import Hub
from dazi.repos.models import DownloadDay, Repo

RECENT_DAYS = 30
# Like the Hugging Face Hub: a model download is a fetch of its config.json (every loader fetches it);
# for datasets (and models without a config) every data file fetch counts, except the card.
_MODEL_FILES = ("config.json", "model_index.json", "configuration.json")
_NOT_DATA = (".gitattributes", "README.md", ".gitignore")


def counts_as_download(repo_type: str, path: str, range_header: str | None) -> bool:
    if range_header and not range_header.replace(" ", "").startswith("bytes=0-"):
        return False  # resumed or partial reads are part of a download already counted
    if repo_type == "model":
        return path in _MODEL_FILES or path.endswith(".gguf")
    return path.rsplit("/", 1)[-1] not in _NOT_DATA


def record(hub: Hub, repo_pk: int, when: dt.date | None = None) -> None:
    day = when or dt.datetime.now(dt.UTC).date()
    with hub.db.write() as session:
        stmt = upsert(session, DownloadDay).values(repo_id=repo_pk, day=day, count=1)
        session.execute(
            stmt.on_conflict_do_update(index_elements=["repo_id", "day"], set_={"count": DownloadDay.count + 1})
        )
        since = day - dt.timedelta(days=RECENT_DAYS - 1)
        recent = (
            select(func.coalesce(func.sum(DownloadDay.count), 0))
            .where(DownloadDay.repo_id == repo_pk, DownloadDay.day >= since)
            .scalar_subquery()
        )
        session.execute(
            update(Repo)
            .where(Repo.id == repo_pk)
            .values(downloads_total=Repo.downloads_total + 1, downloads_recent=recent)
        )


def daily(hub: Hub, repo_pk: int, days: int = RECENT_DAYS) -> list[tuple[dt.date, int]]:
    today = dt.datetime.now(dt.UTC).date()
    since = today - dt.timedelta(days=days - 1)
    with hub.db.read() as session:
        rows = dict(
            session.execute(
                select(DownloadDay.day, DownloadDay.count).where(
                    DownloadDay.repo_id == repo_pk, DownloadDay.day >= since
                )
            ).all()
        )
    return [(since + dt.timedelta(days=i), int(rows.get(since + dt.timedelta(days=i), 0))) for i in range(days)]
