"""Server time of the web pages on a hub with many repos (issue 5, item 11).

    .venv/bin/python benchmarks/web.py                       # 10,000 repos, SQLite then PostgreSQL
    .venv/bin/python benchmarks/web.py --repos 2000 --backend sqlite --requests 50
    .venv/bin/python benchmarks/web.py --json /tmp/web.json

Seeding goes through the services, as a real commit would: ``repos.services.create_repo`` with a README
card (the initial commit; it runs ``refresh_metadata``, which fills the card columns, ``repo_tags`` and
the search index), in batches of ``--batch`` repos per transaction; download counts are then set with
one UPDATE (they come from download statistics, not commits). A tenth of the repos are datasets, a
twentieth private.

Timing is **in-process**: the ASGI app is called through ``httpx.ASGITransport`` (no socket, no
network), and each request is timed from send to the full body, so the figure is the server's time
(routing, database, templates) plus the in-process client's small overhead. Pages are requested as an
anonymous browser (``Accept: text/html``), after a few warm-up requests.

PostgreSQL is a throwaway cluster (``tests/support/services.Postgres``, ``fsync=off``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

TASKS = ["text-classification", "text-generation", "translation", "summarization", "token-classification",
         "fill-mask", "question-answering", "image-classification", "automatic-speech-recognition",
         "feature-extraction"]  # fmt: skip
LIBRARIES = ["transformers", "sentence-transformers", "peft", "timm", "diffusers", "gguf"]
LICENSES = ["apache-2.0", "mit", "cc-by-4.0", "llama3", "other"]
LANGUAGES = ["zh", "en", "ja", "fr"]
EN_WORDS = ["sentiment", "bilingual", "tokenizer", "retrieval", "classifier", "speech", "vision", "chat",
            "reviews", "medical", "legal", "finance", "news", "poetry", "dialogue", "summary"]  # fmt: skip
ZH_WORDS = ["情感分析", "客服工单", "中文分词", "语音识别", "图像分类", "机器翻译", "文本摘要", "问答系统",
            "医疗问诊", "法律文书", "金融新闻", "古诗生成", "对话模型", "电商评论"]  # fmt: skip
PAGES: dict[str, Callable[[str], str]] = {
    "home": lambda _m: "/",
    "list, 2 facets": lambda _m: "/models?pipeline_tag=text-classification&library=transformers",
    "search (Latin)": lambda _m: "/search?q=sentiment",
    "search (Chinese)": lambda _m: "/search?q=情感分析",
    "list + search (Chinese)": lambda _m: "/models?search=语音识别",
    "model page": lambda m: f"/{m}",
}
TARGETS = {"home": 50, "list, 2 facets": 50, "model page": 50}  # ms at p95; search pages: 100


def card(i: int, rng: random.Random) -> bytes:
    task, library = rng.choice(TASKS), rng.choice(LIBRARIES)
    en, zh = rng.sample(EN_WORDS, 3), rng.sample(ZH_WORDS, 2)
    meta = {
        "license": rng.choice(LICENSES),
        "pipeline_tag": task,
        "library_name": library,
        "language": rng.sample(LANGUAGES, rng.randint(1, 2)),
        "tags": [en[0], f"topic-{i % 50}"],
    }
    lines = ["---", *(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in meta.items()), "---", ""]
    body = (
        f"# Model {i}\n\n{zh[0]}与{zh[1]}的{task}模型。\nA {' '.join(en)} model for {task}.\n\n"
        "## 使用方法\n\n```python\nfrom transformers import pipeline\n```\n\n"
        "| 数据集 | 条数 |\n|---|---|\n| 电商评论 | 120,000 |\n"
    )
    return ("\n".join(lines) + body).encode()


def seed(hub: Any, count: int, batch: int) -> tuple[str, float]:
    """``count`` repos with cards through ``create_repo``; returns (a model id, seconds)."""
    from sqlalchemy import text

    from dazi.accounts.services import actor_for_user, create_user
    from dazi.repos.services import create_repo

    rng = random.Random(5)  # noqa: S311 (made-up cards, not secrets)
    started = time.perf_counter()
    with hub.db.write() as session:
        owners = [create_user(session, f"owner{k}", f"owner{k}@example.org", "password123") for k in range(20)]
        actors = [actor_for_user(session, u) for u in owners]
    for start in range(0, count, batch):
        with hub.db.write() as session:
            for i in range(start, min(start + batch, count)):
                actor = actors[i % len(actors)]
                repo_type = "dataset" if i % 10 == 9 else "model"
                create_repo(
                    session,
                    actor,
                    repo_type,
                    actor.name,
                    f"repo-{i}",
                    private=i % 20 == 7,
                    files={"README.md": card(i, rng)},
                )
        print(f"  seeded {min(start + batch, count)}/{count} ({time.perf_counter() - started:.0f} s)", flush=True)
    with hub.db.write() as session:
        session.execute(
            text(
                "UPDATE repos SET downloads_recent = (id * 7919) % 100000, downloads_total = ((id * 7919) % 100000) * 3"
            )
        )
    return f"{actors[0].name}/repo-0", time.perf_counter() - started


async def measure(app: Any, model: str, requests: int) -> dict[str, dict[str, float]]:
    transport = httpx.ASGITransport(app=app)
    headers = {"Accept": "text/html", "Accept-Language": "en"}
    results: dict[str, dict[str, float]] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench", headers=headers) as client:
        for name, make in PAGES.items():
            url = make(model)
            for _ in range(3):  # warm-up: templates, caches, query plans
                (await client.get(url)).raise_for_status()
            times = []
            for _ in range(requests):
                t0 = time.perf_counter()
                response = await client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                response.raise_for_status()
            times.sort()
            results[name] = {
                "p50": statistics.median(times),
                "p95": times[int(0.95 * (len(times) - 1))],
                "max": times[-1],
                "bytes": len(response.content),
            }
    return results


def run_backend(backend: str, count: int, batch: int, requests: int, work: Path) -> dict[str, Any]:
    from dazi.app import create_app
    from dazi.config import Settings
    from dazi.hub import Hub

    values: dict[str, Any] = {}
    pg = None
    if backend == "postgres":
        from tests.support.services import Postgres

        pg = Postgres.start(work / "pg")
        values["database_url"] = pg.create_database("bench")
    settings = Settings(data_dir=work / backend, secret_key="bench-" + secrets.token_hex(8), **values)
    hub = Hub.open(settings)
    try:
        print(f"{backend}: seeding {count} repos", flush=True)
        model, seconds = seed(hub, count, batch)
        # Planner statistics, as a running hub has them: PostgreSQL's autovacuum analyzes by itself;
        # for SQLite, ``Hub.open`` runs ``PRAGMA optimize`` (here the repos were seeded after it).
        with hub.db.write() as session:
            from sqlalchemy import text

            session.execute(text("ANALYZE"))
        pages = asyncio.run(measure(create_app(settings, hub), model, requests))
        return {"backend": backend, "repos": count, "seed_seconds": seconds, "pages": pages}
    finally:
        hub.close()
        if pg is not None:
            pg.stop()


def report(result: dict[str, Any]) -> None:
    seed_rate = result["repos"] / result["seed_seconds"]
    print(
        f"\n{result['backend']}: {result['repos']} repos seeded in {result['seed_seconds']:.0f} s "
        f"({seed_rate:.0f} repos/s)"
    )
    print(f"{'page':<26}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}  target p95")
    for name, r in result["pages"].items():
        target = TARGETS.get(name, 100)
        verdict = "met" if r["p95"] < target else "MISSED"
        print(f"{name:<26}{r['p50']:>9.1f}{r['p95']:>9.1f}{r['max']:>9.1f}  < {target} ms {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="repos per seeding transaction")
    parser.add_argument("--requests", type=int, default=50, help="timed requests per page (after 3 warm-ups)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    results = []
    with tempfile.TemporaryDirectory(prefix="dazi-bench-web-") as tmp:
        for backend in backends:
            results.append(run_backend(backend, args.repos, args.batch, args.requests, Path(tmp)))
            report(results[-1])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
