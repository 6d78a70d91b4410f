#!/usr/bin/env python3
"""Inference benchmark: the tiny Llama through dazi's ``/v1`` against ``transformers`` ``generate`` in-process.

Starts its own hub (``dazi serve`` in a subprocess, fresh data folder, free loopback port; the ``Hub``
helper of ``benchmarks/transfer.py``), pushes the tiny random-weight Llama of ``tests/support/tiny_model.py``
with huggingface_hub, and measures in the same run:

1. **one client**: ``--reps`` requests of ``--tokens`` new tokens each (greedy, EOS suppressed so every
   request makes exactly that many), alternating a direct ``model.generate(..., min_new_tokens=N)`` in this
   process and a ``POST /v1/completions`` to the hub: p50 / p99 latency and tokens/s of both, and the API
   overhead (p50 latency through ``/v1`` / p50 of ``generate`` - 1);
2. **concurrency**: 1, 4 and 16 clients (threads with their own HTTP connection), each sending requests back
   to back until ``--requests`` have been answered: aggregate tokens/s, p50 / p99 latency, and the
   throughput ratio to one client;
3. **deployments** (``--deployment``): a deployment of the same model (``POST /api/deployments``, replicas
   as worker processes), then alternating requests with ``model=<deployment name>`` and ``model=<repo id>``
   at one client (the cost of the extra hop to the replica), and 16 clients against the deployment with 1
   and with 2 replicas.

Run ``python benchmarks/inference.py --help``; results are described in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from transfer import Hub, log, machine_busy, machine_notes  # noqa: E402

PROMPT = "the model hub stores tiny model number 7 with a card and"
REPO = "bench/tiny-llama"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(latencies: list[float], tokens: int, wall: float | None = None) -> dict[str, float]:
    wall = sum(latencies) if wall is None else wall
    return {"requests": len(latencies), "p50_s": round(percentile(latencies, 50), 4),
            "p99_s": round(percentile(latencies, 99), 4), "tokens_per_s": round(tokens * len(latencies) / wall, 1)}


def push_tiny_model(hub: Hub, folder: Path) -> None:
    from huggingface_hub import HfApi
    from tests.support.tiny_model import make_tiny_llama

    make_tiny_llama(folder)
    api = HfApi(endpoint=hub.url, token=hub.token)
    api.create_repo(REPO, exist_ok=True)
    api.upload_folder(repo_id=REPO, folder_path=folder)


class Api:
    def __init__(self, hub: Hub, tokens: int, eos: int, model: str = REPO):
        self.url = f"{hub.url}/v1/completions"
        self.headers = hub.auth
        self.body = {"model": model, "prompt": PROMPT, "max_tokens": tokens, "temperature": 0,
                     "logit_bias": {str(eos): -100}}
        self.tokens = tokens

    def engine_stats(self) -> dict[str, Any]:
        """The engine's counters (only for a repo id: a deployment's engines live in its replicas)."""
        if self.body["model"] != REPO:
            return {}
        url = self.url.replace("/completions", f"/models/{REPO}")
        status: dict[str, Any] = httpx.get(url, headers=self.headers, trust_env=False).json()["dazi"]["status"]
        return status

    def one(self, client: httpx.Client) -> float:
        started = time.perf_counter()
        response = client.post(self.url, json=self.body, headers=self.headers)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        got = response.json()["usage"]["completion_tokens"]
        if got != self.tokens:
            raise RuntimeError(f"asked for {self.tokens} tokens, got {got}")
        return elapsed


def one_client(api: Api, folder: Path, reps: int) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder).eval()
    ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    n = api.tokens

    def direct() -> float:
        started = time.perf_counter()
        with torch.inference_mode():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n,
                                 do_sample=False)
        elapsed = time.perf_counter() - started
        assert out.shape[1] - ids.shape[1] == n
        return elapsed

    direct_times: list[float] = []
    api_times: list[float] = []
    with httpx.Client(timeout=600, trust_env=False) as client:
        for _ in range(3):  # warm both paths up (model load, first calls)
            direct()
            api.one(client)
        for _ in range(reps):
            direct_times.append(direct())
            api_times.append(api.one(client))
    result = {"direct": summary(direct_times, n), "api": summary(api_times, n)}
    result["overhead_p50"] = round(result["api"]["p50_s"] / result["direct"]["p50_s"] - 1, 3)
    return result


def concurrent(api: Api, clients: int, requests: int) -> dict[str, float]:
    before = api.engine_stats()
    latencies: list[float] = []
    lock = threading.Lock()
    remaining = [requests]

    def worker() -> None:
        with httpx.Client(timeout=600, trust_env=False) as client:
            while True:
                with lock:
                    if remaining[0] <= 0:
                        return
                    remaining[0] -= 1
                elapsed = api.one(client)
                with lock:
                    latencies.append(elapsed)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = summary(latencies, api.tokens, wall=time.perf_counter() - started)
    after = api.engine_stats()
    if before and after:
        steps = after["steps"] - before["steps"]
        result["mean_batch"] = round((after["row_steps"] - before["row_steps"]) / max(steps, 1), 2)  # rows per step
    return result


DEPLOYMENT = "bench-tiny"


def set_replicas(hub: Hub, replicas: int) -> None:
    """Create the deployment (or scale it) and wait until every replica is ready."""
    with httpx.Client(base_url=hub.url, headers=hub.auth, timeout=60, trust_env=False) as client:
        exists = client.get(f"/api/deployments/{DEPLOYMENT}").status_code == 200
        if exists:
            client.post(f"/api/deployments/{DEPLOYMENT}/scale", json={"replicas": replicas}).raise_for_status()
        else:
            body = {"name": DEPLOYMENT, "model": REPO, "replicas": replicas}
            client.post("/api/deployments", json=body).raise_for_status()
        for _ in range(1200):
            state = client.get(f"/api/deployments/{DEPLOYMENT}").json()
            if state["status"] == "running" and state["replicas"]["ready"] == replicas:
                return
            if state["status"] == "failed":
                raise RuntimeError(f"the deployment failed: {state['error']}")
            time.sleep(0.25)
    raise RuntimeError("the deployment did not become ready")


def deployments(hub: Hub, tokens: int, eos: int, reps: int, requests: int) -> dict[str, Any]:
    direct, deployed = Api(hub, tokens, eos), Api(hub, tokens, eos, model=DEPLOYMENT)
    set_replicas(hub, 1)
    model_times: list[float] = []
    deployment_times: list[float] = []
    with httpx.Client(timeout=600, trust_env=False) as client:
        for _ in range(3):
            direct.one(client)
            deployed.one(client)
        for _ in range(reps):
            model_times.append(direct.one(client))
            deployment_times.append(deployed.one(client))
    result: dict[str, Any] = {"model_id": summary(model_times, tokens), "deployment": summary(deployment_times, tokens)}
    result["hop_overhead_p50"] = round(result["deployment"]["p50_s"] / result["model_id"]["p50_s"] - 1, 3)
    for replicas in (1, 2):
        set_replicas(hub, replicas)
        log(f"16 clients against the deployment with {replicas} replica(s)")
        result[f"clients16_replicas{replicas}"] = concurrent(deployed, 16, requests)
    return result


def print_report(results: dict[str, Any]) -> None:
    one = results["one_client"]
    print(f"\ntiny Llama, {results['tokens']} new tokens per request, greedy; machine busy before start: "
          f"{results['busy_before_pct']} %")
    print(f"{'path':<34}{'p50 s':>9}{'p99 s':>9}{'tokens/s':>11}")
    for label, key in (("transformers generate (in-process)", "direct"), ("dazi /v1/completions, 1 client", "api")):
        row = one[key]
        print(f"{label:<34}{row['p50_s']:>9.4f}{row['p99_s']:>9.4f}{row['tokens_per_s']:>11.1f}")
    print(f"API overhead at one client (p50): {one['overhead_p50'] * 100:+.1f} %  (aim: <= +10 %)")
    base = results["concurrency"]["1"]["tokens_per_s"]
    print(f"\n{'clients':<10}{'p50 s':>9}{'p99 s':>9}{'tokens/s':>11}{'vs 1 client':>13}{'mean batch':>12}")
    for clients, row in results["concurrency"].items():
        print(f"{clients:<10}{row['p50_s']:>9.4f}{row['p99_s']:>9.4f}{row['tokens_per_s']:>11.1f}"
              f"{row['tokens_per_s'] / base:>12.2f}x{row['mean_batch']:>12.2f}")
    print("(aim: 16 clients >= 3x one client)")
    dep = results.get("deployments")
    if dep:
        print(f"\n{'path, 1 client':<34}{'p50 s':>9}{'p99 s':>9}{'tokens/s':>11}")
        for label, key in (("model=<repo id>", "model_id"), ("model=<deployment name>", "deployment")):
            row = dep[key]
            print(f"{label:<34}{row['p50_s']:>9.4f}{row['p99_s']:>9.4f}{row['tokens_per_s']:>11.1f}")
        print(f"hop to the replica (p50): {dep['hop_overhead_p50'] * 100:+.1f} %")
        for replicas in (1, 2):
            row = dep[f"clients16_replicas{replicas}"]
            print(f"16 clients, {replicas} replica(s): {row['tokens_per_s']:.1f} tokens/s, p50 {row['p50_s']:.4f} s, "
                  f"p99 {row['p99_s']:.4f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per request (default 64)")
    parser.add_argument("--reps", type=int, default=30, help="requests per path at one client (default 30)")
    parser.add_argument("--requests", type=int, default=96, help="requests per concurrency level (default 96)")
    parser.add_argument("--clients", default="1,4,16", help="concurrency levels (default 1,4,16)")
    parser.add_argument("--json", type=Path, help="write every figure to this file")
    parser.add_argument("--deployment", action="store_true", help="also measure a deployment (1 and 2 replicas)")
    args = parser.parse_args(argv)

    busy = machine_busy()
    log(f"machine busy before start: {busy} %")
    with tempfile.TemporaryDirectory(prefix="dazi-bench-inference-") as tmp:
        hub = Hub(Path(tmp))
        try:
            hub.start()
            folder = Path(tmp) / "tiny-llama"
            push_tiny_model(hub, folder)
            from transformers import AutoTokenizer

            eos = int(AutoTokenizer.from_pretrained(folder).eos_token_id)
            api = Api(hub, args.tokens, eos)
            log("one client: generate vs /v1 (alternating)")
            results: dict[str, Any] = {"tokens": args.tokens, "busy_before_pct": busy, "machine": machine_notes(),
                                       "one_client": one_client(api, folder, args.reps), "concurrency": {}}
            for clients in (int(c) for c in args.clients.split(",")):
                log(f"{clients} concurrent clients")
                results["concurrency"][str(clients)] = concurrent(api, clients, args.requests)
            if args.deployment:
                log("deployment: model=<deployment name> vs model=<repo id>")
                results["deployments"] = deployments(hub, args.tokens, eos, args.reps, args.requests)
        finally:
            hub.stop()
    print_report(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
