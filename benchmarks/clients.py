#!/usr/bin/env python3
"""Client benchmark: ``modelscope.snapshot_download`` against ``huggingface_hub.snapshot_download`` on dazi.

Starts its own hub (``dazi serve`` on a free loopback port, a fresh data folder; the helpers of
``transfer.py``), uploads one model repo through the ModelScope SDK (``--small-files`` small random files
plus one ``--big-mib`` MiB random file), then downloads it with both clients into fresh caches, in child
processes, ``--reps`` times, alternating which client goes first. Each download is timed inside the child
(library import excluded) and checked afterwards (file count, the big file's sha256).

Three scenarios: the whole repo, the small files only, the big file only (``allow_patterns`` in both SDKs).
Each client runs with its defaults (modelscope: 4 download workers; huggingface_hub: 8).
Throughput is decimal MB/s (10^6 bytes per second) of file bytes. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from transfer import Hub, MiB, child_env, log, machine_busy, machine_notes, make_random_file

CHILD_FLAG = "--child"
REPO = "bench/clients"
SCENARIOS = {"whole repo": None, "small files only": ["small/*"], "big file only": ["big.bin"]}
CLIENTS = ("modelscope", "huggingface_hub")


def child_main(spec: dict[str, Any]) -> None:
    """One snapshot download; prints JSON with its time and what arrived."""
    if spec["client"] == "modelscope":
        from modelscope import snapshot_download as ms_download

        t0 = time.perf_counter()
        path = ms_download(spec["repo"], cache_dir=spec["cache"], endpoint=spec["endpoint"], token=spec["token"],
                           allow_patterns=spec["patterns"])
    else:
        from huggingface_hub import snapshot_download as hf_download

        t0 = time.perf_counter()
        path = hf_download(spec["repo"], cache_dir=spec["cache"], endpoint=spec["endpoint"], token=spec["token"],
                           allow_patterns=spec["patterns"])
    seconds = time.perf_counter() - t0
    files = [p for p in Path(path).rglob("*") if p.is_file() and (p.name == "big.bin" or p.parent.name == "small")]
    big = Path(path) / "big.bin"
    print(json.dumps({"seconds": seconds, "files": len(files), "bytes": sum(p.stat().st_size for p in files),
                      "big_sha256": sha256(big) if big.exists() else None}))


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(8 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def run_child(spec: dict[str, Any], home: Path) -> dict[str, Any]:
    env = child_env({"HOME": str(home), "HF_HOME": str(home / "hf"), "MODELSCOPE_CACHE": str(home / "ms"),
                     "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
                     "MODELSCOPE_DOWNLOAD_INTRA_CLOUD": "false", "MODELSCOPE_ENDPOINT": spec["endpoint"]})
    out = subprocess.run([sys.executable, __file__, CHILD_FLAG, json.dumps(spec)], capture_output=True, text=True,
                         env=env, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"{spec['client']} failed: {out.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def publish(hub: Hub, workdir: Path, small: int, big_mib: int) -> tuple[int, str]:
    """Upload the benchmark repo with the ModelScope SDK; returns (bytes of the small files, big sha256)."""
    from modelscope.hub.api import HubApi

    folder = workdir / "src"
    rng = random.Random(0)  # noqa: S311 (file sizes, not secrets)
    small_bytes = 0
    for i in range(small):
        size = rng.randint(1, 16) * 1024
        (folder / "small").mkdir(parents=True, exist_ok=True)
        (folder / "small" / f"file-{i:04d}.bin").write_bytes(os.urandom(size))
        small_bytes += size
    big_sha = make_random_file(folder / "big.bin", big_mib * MiB)
    api = HubApi(endpoint=hub.url, token=hub.token)
    api.upload_folder(repo_id=REPO, folder_path=str(folder), commit_message="benchmark data")
    return small_bytes, big_sha


def measure(hub: Hub, workdir: Path, args: argparse.Namespace, small_bytes: int, big_sha: str) -> dict[str, Any]:
    expected = {"whole repo": (args.small_files + 1, small_bytes + args.big_mib * MiB),
                "small files only": (args.small_files, small_bytes), "big file only": (1, args.big_mib * MiB)}
    results: dict[str, Any] = {}
    for scenario, patterns in SCENARIOS.items():
        times: dict[str, list[float]] = {c: [] for c in CLIENTS}
        for rep in range(args.reps):
            order = CLIENTS if rep % 2 == 0 else CLIENTS[::-1]
            for client in order:
                home = workdir / "homes" / f"{client}-{rep}"
                shutil.rmtree(home, ignore_errors=True)
                spec = {"client": client, "repo": REPO, "endpoint": hub.url, "token": hub.token,
                        "cache": str(home / "cache"), "patterns": patterns}
                got = run_child(spec, home)
                if (got["files"], got["bytes"]) != expected[scenario] or got["big_sha256"] not in (None, big_sha):
                    raise RuntimeError(f"{client} {scenario}: got {got}, expected {expected[scenario]}")
                times[client].append(got["seconds"])
                shutil.rmtree(home, ignore_errors=True)
            log(f"{scenario}, rep {rep + 1}: " + ", ".join(f"{c} {times[c][-1]:.2f} s" for c in CLIENTS))
        results[scenario] = {"bytes": expected[scenario][1], "files": expected[scenario][0], "seconds": times}
    return results


def print_report(results: dict[str, Any], notes: dict[str, Any]) -> None:
    print(f"\nmodelscope vs huggingface_hub snapshot_download on dazi — {notes['reps']} reps, "
          f"{notes['cpus']} CPUs, {notes['busy_before']} % busy before")
    print(f"{'scenario':<18} {'client':<16} {'best s':>8} {'median s':>9} {'median MB/s':>12} {'ms/hf (median)':>15}")
    for scenario, r in results.items():
        medians = {c: statistics.median(r["seconds"][c]) for c in CLIENTS}
        for client in CLIENTS:
            ratio = f"{medians['modelscope'] / medians['huggingface_hub']:.2f}" if client == "modelscope" else ""
            print(f"{scenario:<18} {client:<16} {min(r['seconds'][client]):>8.2f} {medians[client]:>9.2f} "
                  f"{r['bytes'] / medians[client] / 1e6:>12.1f} {ratio:>15}")
    print("ms/hf: modelscope time / huggingface_hub time (below 1: modelscope is faster)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small-files", type=int, default=200, help="number of small files (1-16 KiB each)")
    parser.add_argument("--big-mib", type=int, default=512, help="size of the big file in MiB")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per scenario and client")
    parser.add_argument("--workdir", type=Path, default=Path(__file__).resolve().parent / ".work" / "clients")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--json", type=Path, help="write all timings and machine notes to this file")
    args = parser.parse_args(argv)
    shutil.rmtree(args.workdir, ignore_errors=True)
    args.workdir.mkdir(parents=True)
    notes = machine_notes() | {"reps": args.reps, "busy_before": machine_busy()}
    hub = Hub(args.workdir)
    try:
        hub.start()
        log(f"dazi at {hub.url}; uploading {args.small_files} small files and {args.big_mib} MiB with modelscope")
        small_bytes, big_sha = publish(hub, args.workdir, args.small_files, args.big_mib)
        results = measure(hub, args.workdir, args, small_bytes, big_sha)
    finally:
        hub.stop()
        if not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
    import modelscope

    notes["modelscope"] = modelscope.__version__
    print_report(results, notes)
    if args.json:
        args.json.write_text(json.dumps({"notes": notes, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == CHILD_FLAG:
        child_main(json.loads(sys.argv[2]))
    else:
        sys.exit(main())
