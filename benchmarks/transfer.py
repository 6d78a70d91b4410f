#!/usr/bin/env python3
"""Transfer benchmark: dazi's upload and download paths against a plain static server.

Starts its own hub (a fresh data folder, a free loopback port) and a static file server
(nginx if installed, else ``python -m http.server``), then measures, on one random file:

1. baseline ingest: sha256 + plain write of the file (8 MiB reads), with and without fsync;
2. ingest through the git-LFS path: ``curl -T`` to the signed PUT URL (the server hashes and stores);
3. the inline commit path that huggingface_hub >= 1.20 uses (``uploadMode: regular``): the base64
   NDJSON body POSTed by curl (server side only), then ``HfApi.upload_file`` end to end, with the
   peak RSS of the server and of the client;
4. downloads with curl to /dev/null, from dazi (``/resolve``) and from the static server, one client
   and 4 concurrent clients (aggregate);
5. ``hf_hub_download`` into a fresh cache;
6. with ``--max-inline``: the largest inline upload (``upload_file`` of 1 GiB and 2 GiB by default)
   and its memory cost.

Everything stays on 127.0.0.1. Throughputs are decimal GB/s (10^9 bytes per second) of file bytes.
Run ``python benchmarks/transfer.py --help``; results are described in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import getpass
import hashlib
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx

MiB = 1 << 20
READ_SIZE = 8 * MiB
ROOT = Path(__file__).resolve().parents[1]
NS, NAME = "bench", "transfer"
REPO_ID = f"{NS}/{NAME}"


# --------------------------------------------------------------------------------------------
# small helpers


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gbps(nbytes: int, seconds: float) -> float:
    return nbytes / seconds / 1e9


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for subprocesses: no proxies, loopback only."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy", "all_proxy")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra or {})
    return env


def proc_status(pid: int, field: str) -> int | None:
    """A ``kB`` field of /proc/<pid>/status (VmRSS, VmHWM), in bytes."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def reset_peak_rss(pid: int) -> None:
    """Reset a process's VmHWM (``echo 5 > /proc/<pid>/clear_refs``, Linux >= 4.0); best effort."""
    with suppress(OSError):
        Path(f"/proc/{pid}/clear_refs").write_text("5")


def find_nginx() -> str | None:
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/sbin/nginx") if Path(p).exists()), None)


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (all its threads)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class PeakRss:
    """Peak RSS of a process during a block: resets VmHWM (clear_refs 5) and samples VmRSS."""

    def __init__(self, pid: int, interval: float = 0.01):
        self.pid = pid
        self.interval = interval
        self.start_rss = 0
        self.peak = 0
        self.cpu = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = proc_status(self.pid, "VmRSS")
            if rss:
                self.peak = max(self.peak, rss)
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        reset_peak_rss(self.pid)
        self.start_rss = proc_status(self.pid, "VmRSS") or 0
        self._cpu0 = proc_cpu_seconds(self.pid) or 0.0
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, proc_status(self.pid, "VmHWM") or 0)
        self.cpu = (proc_cpu_seconds(self.pid) or 0.0) - self._cpu0


def summarize(times: list[float], nbytes: int) -> dict[str, Any]:
    rates = [gbps(nbytes, t) for t in times]
    return {
        "bytes": nbytes,
        "seconds": [round(t, 4) for t in times],
        "best_gbps": round(max(rates), 3),
        "median_gbps": round(statistics.median(rates), 3),
    }


def curl_cmd() -> list[str]:
    return ["curl", "-sS", "--fail", "--noproxy", "*"]


def run_curl(args: list[str], timeout: float = 3600) -> tuple[int, float]:
    """Run curl with ``-w '%{http_code} %{time_total}'``; return (status, seconds)."""
    out = subprocess.run([*curl_cmd(), "-w", "%{http_code} %{time_total}", *args], capture_output=True,
                         text=True, timeout=timeout, env=child_env())
    if out.returncode != 0:
        raise RuntimeError(f"curl failed ({out.returncode}): {out.stderr.strip()} {out.stdout.strip()[-300:]}")
    code, seconds = out.stdout.strip().rsplit("\n", 1)[-1].split()[-2:]
    return int(code), float(seconds)


def make_random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes; return their sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with path.open("wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(READ_SIZE, left))
            f.write(chunk)
            digest.update(chunk)
            left -= len(chunk)
    path.chmod(0o644)
    return digest.hexdigest()


SETTLE: dict[str, Any] = {"dir": None, "size": 0}


def drop_dirty() -> None:
    """Start each write measurement alike: warm free memory, no dirty pages.

    On VMs that hand freed guest memory back to the host (virtio-balloon free page reporting, DAMON),
    the first write into memory freed seconds ago costs up to ~4 s/GiB more than a write into memory
    freed just now; so before each timed write, write and delete a scratch file of the test size
    (untimed), then flush dirty pages so one measurement does not pay for the previous one's writeback.
    """
    folder, size = SETTLE["dir"], SETTLE["size"]
    if folder is not None and size:
        scratch = Path(folder) / "settle.bin"
        block = bytes(READ_SIZE)
        with scratch.open("wb") as f:
            for _ in range(size // READ_SIZE + 1):
                f.write(block)
        scratch.unlink()
    os.sync()


# --------------------------------------------------------------------------------------------
# servers


class Hub:
    """A dazi hub in a subprocess, with a user, a write token and a model repo."""

    def __init__(self, workdir: Path):
        self.data = workdir / "hub-data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.token = ""
        self.log_path = workdir / "hub.log"

    def _dazi(self) -> list[str]:
        exe = Path(sys.executable).with_name("dazi")
        return [str(exe)] if exe.exists() else [sys.executable, "-m", "dazi"]

    def start(self) -> None:
        if self.data.exists():
            shutil.rmtree(self.data)
        env = child_env({"DAZI_DATA_DIR": str(self.data)})

        def run(*cli: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*self._dazi(), *cli, "--data-dir", str(self.data)], check=True,
                                  capture_output=True, text=True, env=env)

        run("users", "create", NS, "--email", f"{NS}@localhost")
        self.token = run("tokens", "create", NS, "--role", "write").stdout.strip().splitlines()[-1]
        logf = self.log_path.open("wb")
        # start_new_session: our signals (Ctrl-C) do not reach it; we stop it in stop().
        self.proc = subprocess.Popen(
            [*self._dazi(), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--data-dir", str(self.data),
             "--no-bootstrap"],
            stdout=logf, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dazi serve exited with {self.proc.returncode}; see {self.log_path}")
            with suppress(httpx.HTTPError):
                r = httpx.get(f"{self.url}/api/whoami-v2", headers=self.auth, timeout=2, trust_env=False)
                if r.status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise RuntimeError("dazi serve did not answer within 60 s")
        r = httpx.post(f"{self.url}/api/repos/create", headers=self.auth, trust_env=False,
                       json={"name": NAME, "organization": NS, "type": "model"})
        r.raise_for_status()

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class StaticServer:
    """nginx (sendfile on, access_log off) if installed, else ``python -m http.server``."""

    def __init__(self, workdir: Path, root: Path):
        self.dir = workdir / "static-server"
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.kind = ""
        self.version = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, force_http_server: bool = False) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        nginx = find_nginx()
        logf = (self.dir / "server.log").open("wb")
        if nginx and not force_http_server:
            self.kind = "nginx"
            info = subprocess.run([nginx, "-V"], capture_output=True, text=True).stderr
            self.version = info.splitlines()[0].split(":", 1)[-1].strip() if info else "nginx"
            conf = self.dir / "nginx.conf"
            conf.write_text(self._nginx_conf(info))
            cmd = [nginx, "-p", str(self.dir), "-c", str(conf), "-e", str(self.dir / "error.log")]
            self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        else:
            self.kind = "http.server"
            self.version = f"python {platform.python_version()} -m http.server"
            self.proc = subprocess.Popen([sys.executable, "-m", "http.server", str(self.port), "--bind", "127.0.0.1",
                                          "--directory", str(self.root)],
                                         stdout=logf, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the static server ({self.kind}) exited; see {self.dir}")
            with suppress(httpx.HTTPError):
                httpx.head(f"{self.url}/", timeout=1, trust_env=False)
                return
            time.sleep(0.1)
        raise RuntimeError("the static server did not start")

    def _nginx_conf(self, nginx_v: str) -> str:
        temp = "\n".join(
            f"    {mod}_temp_path {self.dir / ('tmp-' + mod)};"
            for mod in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
            if mod == "client_body" or f"--without-http_{mod}_module" not in nginx_v
        )
        user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
        return f"""{user}worker_processes auto;
daemon off;
pid {self.dir / 'nginx.pid'};
error_log {self.dir / 'error.log'} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    default_type application/octet-stream;
{temp}
    server {{
        listen 127.0.0.1:{self.port};
        root {self.root};
    }}
}}
"""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # nginx: SIGQUIT is a graceful stop; http.server: SIGTERM.
            self.proc.send_signal(signal.SIGQUIT if self.kind == "nginx" else signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


# --------------------------------------------------------------------------------------------
# child processes (their own memory, their own huggingface_hub state)

CHILD_FLAG = "--_child"


def child_main(spec: dict[str, Any]) -> None:
    """Run one huggingface_hub operation; print JSON with its time and this process's peak RSS."""
    import huggingface_hub as hf  # imported here: the RSS before the operation includes the library

    rss_before = proc_status(os.getpid(), "VmRSS")
    reset_peak_rss(os.getpid())
    t0 = time.perf_counter()
    if spec["op"] == "upload":
        api = hf.HfApi(endpoint=spec["endpoint"], token=spec["token"])
        api.upload_file(path_or_fileobj=spec["file"], path_in_repo=spec["path"], repo_id=spec["repo"],
                        commit_message="bench upload")
    elif spec["op"] == "download":
        path = hf.hf_hub_download(spec["repo"], spec["path"], endpoint=spec["endpoint"], token=spec["token"],
                                  cache_dir=spec["cache"])
        assert Path(path).stat().st_size == spec["size"], "downloaded size differs"
    else:
        raise SystemExit(f"unknown op {spec['op']}")
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "rss_before": rss_before, "peak_rss": proc_status(os.getpid(), "VmHWM"),
                      "hf_version": hf.__version__}))


def run_child(spec: dict[str, Any], hub: Hub, timeout: float = 3600) -> dict[str, Any]:
    env = child_env({"HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
                     "HF_HOME": str(Path(spec["home"])), "HF_ENDPOINT": hub.url})
    with PeakRss(hub.pid) as server:
        out = subprocess.run([sys.executable, __file__, CHILD_FLAG, json.dumps(spec)], capture_output=True,
                             text=True, env=env, timeout=timeout)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()[-3:]
        return {"ok": False, "returncode": out.returncode, "error": " | ".join(tail)[-500:],
                "server_peak_rss": server.peak, "server_start_rss": server.start_rss}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result.update(ok=True, server_peak_rss=server.peak, server_start_rss=server.start_rss, server_cpu=server.cpu)
    return result


# --------------------------------------------------------------------------------------------
# the measurements


def baseline_ingest(src: Path, dst: Path, fsync: bool) -> float:
    """sha256 + write of ``src`` to ``dst`` with 8 MiB reads (what a hub must do at least)."""
    drop_dirty()
    t0 = time.perf_counter()
    digest = hashlib.sha256()
    with src.open("rb") as f, dst.open("wb") as out:
        while chunk := f.read(READ_SIZE):
            digest.update(chunk)
            out.write(chunk)
        if fsync:
            out.flush()
            os.fsync(out.fileno())
    seconds = time.perf_counter() - t0
    dst.unlink()
    return seconds


def lfs_upload_href(hub: Hub, oid: str, size: int) -> str:
    r = httpx.post(f"{hub.url}/{REPO_ID}.git/info/lfs/objects/batch", trust_env=False, timeout=60,
                   headers={**hub.auth, "Accept": "application/vnd.git-lfs+json",
                            "Content-Type": "application/vnd.git-lfs+json"},
                   json={"operation": "upload", "transfers": ["basic"], "objects": [{"oid": oid, "size": size}]})
    r.raise_for_status()
    obj = r.json()["objects"][0]
    if "actions" not in obj:
        raise RuntimeError(f"the hub already has {oid}; start from a fresh data folder")
    return str(obj["actions"]["upload"]["href"])


def commit_lfs_file(hub: Hub, path: str, oid: str, size: int) -> None:
    body = (json.dumps({"key": "header", "value": {"summary": f"add {path}"}}) + "\n"
            + json.dumps({"key": "lfsFile", "value": {"path": path, "algo": "sha256", "oid": oid, "size": size}})
            + "\n")
    r = httpx.post(f"{hub.url}/api/models/{REPO_ID}/commit/main", content=body.encode(), trust_env=False,
                   headers={**hub.auth, "Content-Type": "application/x-ndjson"}, timeout=60)
    r.raise_for_status()


def write_inline_ndjson(src: Path, dst: Path, path_in_repo: str) -> int:
    """The commit body huggingface_hub sends for a regular-mode file, written in pieces."""
    step = 3 * 2 * MiB  # a multiple of 3: base64 pieces concatenate
    with src.open("rb") as f, dst.open("wb") as out:
        out.write(json.dumps({"key": "header", "value": {"summary": "inline", "description": ""}}).encode() + b"\n")
        out.write(b'{"key": "file", "value": {"content": "')
        while chunk := f.read(step):
            out.write(base64.b64encode(chunk))
        out.write(b'", "path": ' + json.dumps(path_in_repo).encode() + b', "encoding": "base64"}}\n')
    return dst.stat().st_size


def curl_download(url: str, headers: dict[str, str] | None = None) -> subprocess.Popen[str]:
    args = [*curl_cmd(), "-o", "/dev/null", "-w", "%{http_code} %{time_total} %{size_download}"]
    for k, v in (headers or {}).items():
        args += ["-H", f"{k}: {v}"]
    return subprocess.Popen([*args, url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env())


def timed_downloads(url: str, clients: int, size: int, headers: dict[str, str] | None = None) -> float:
    """Wall-clock seconds for ``clients`` concurrent curls of ``url`` to /dev/null (all must succeed)."""
    t0 = time.perf_counter()
    procs = [curl_download(url, headers) for _ in range(clients)]
    outs = [p.communicate() for p in procs]
    seconds = time.perf_counter() - t0
    for p, (out, err) in zip(procs, outs, strict=True):
        if p.returncode != 0:
            raise RuntimeError(f"curl {url} failed: {err.strip()}")
        code, _t, got = out.split()
        if int(code) != 200 or int(float(got)) != size:
            raise RuntimeError(f"curl {url}: HTTP {code}, {got} bytes (expected {size})")
    return seconds


# --------------------------------------------------------------------------------------------
# the run


def fmt_bytes(n: int | None) -> str:
    if not n:
        return "-"
    return f"{n / MiB:,.0f} MiB"


def mem_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def machine_busy(seconds: float = 3.0) -> float:
    """Percentage of all CPUs busy over ``seconds`` (before we start: other load skews every figure)."""

    def sample() -> list[int]:
        return [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]

    a = sample()
    time.sleep(seconds)
    b = sample()
    total = sum(b) - sum(a)
    idle = (b[3] - a[3]) + (b[4] - a[4])
    return round(100 * (1 - idle / total), 1) if total else 0.0


def machine_notes() -> dict[str, Any]:
    notes: dict[str, Any] = {
        "date": dt.date.today().isoformat(),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "cpus": os.cpu_count(),
    }
    with suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                notes["cpu"] = line.split(":", 1)[1].strip()
                break
    with suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                notes["mem_gib"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    with suppress(Exception):
        import huggingface_hub
        import starlette
        import uvicorn

        notes.update(huggingface_hub=huggingface_hub.__version__, uvicorn=uvicorn.__version__,
                     starlette=starlette.__version__)
    with suppress(Exception):
        notes["curl"] = subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout.split()[1]
    return notes


def ensure_nginx(install: bool) -> None:
    if find_nginx() or not install:
        return
    log("nginx is missing: apt-get install -y nginx-light")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if subprocess.run(["apt-get", "install", "-y", "nginx-light"], env=env).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, check=False)
        subprocess.run(["apt-get", "install", "-y", "nginx-light"], env=env, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the test file (default 1024)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each measurement (default 3)")
    parser.add_argument("--workdir", type=Path, default=ROOT / "benchmarks" / ".work",
                        help="scratch folder, deleted at the end unless --keep (default benchmarks/.work)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (files, hub data, logs)")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--install-nginx", action="store_true",
                        help="if nginx is missing, run `apt-get install -y nginx-light` (otherwise http.server)")
    parser.add_argument("--http-server", action="store_true",
                        help="use `python -m http.server` as the static ceiling even if nginx is installed")
    parser.add_argument("--clients", type=int, default=4, help="concurrent download clients (default 4)")
    parser.add_argument("--max-inline", action="store_true",
                        help="also try huggingface_hub upload_file at --max-inline-sizes (needs --size-mib >= 1024)")
    parser.add_argument("--max-inline-sizes", default="1024,2048",
                        help="sizes in MiB for --max-inline (default 1024,2048)")
    parser.add_argument("--report", type=Path, metavar="JSON",
                        help="only print the report of an earlier run's --json file")
    parser.add_argument("--skip", default="", help="comma-separated phases to skip: "
                        "baseline,lfs,inline-curl,hf-upload,download,hf-download")
    args = parser.parse_args(argv)
    if args.report:
        saved = json.loads(args.report.read_text())
        print_report(saved, str(saved.get("static_server", "static")).split(" ")[0])
        return 0
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    for tool in ("curl",):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is required")

    size = args.size_mib * MiB
    work: Path = args.workdir.resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    static_root = work / "static"
    SETTLE.update(dir=work, size=size)
    src = static_root / "f.bin"
    results: dict[str, Any] = {"machine": machine_notes(), "size_bytes": size, "reps": args.reps, "phases": {}}
    busy = results["machine"]["busy_before_pct"] = machine_busy()
    if busy > 10:
        log(f"warning: the machine is already {busy}% busy; figures will be low and noisy")
    phases = results["phases"]
    ensure_nginx(args.install_nginx)
    hub = Hub(work)
    static = StaticServer(work, static_root)
    try:
        log(f"writing {args.size_mib} MiB of random bytes to {src}")
        oid = make_random_file(src, size)
        static.start(force_http_server=args.http_server)
        results["static_server"] = f"{static.kind} ({static.version})"
        log(f"static server: {results['static_server']} at {static.url}")
        hub.start()
        log(f"dazi at {hub.url} (pid {hub.pid}), data in {hub.data}")

        # (1)-(3a) ingest, interleaved per repetition so that background load hits every row alike:
        # baseline sha256 + write (with and without fsync), the LFS PUT with curl (the server hashes,
        # writes, fsyncs and publishes), and the inline NDJSON commit POSTed by curl (the server side
        # of the huggingface_hub >= 1.20 path, without the client's own costs).
        href = lfs_upload_href(hub, oid, size)
        body = work / "commit.ndjson"
        body_size = write_inline_ndjson(src, body, "inline/f.bin") if "inline-curl" not in skip else 0
        ingest: dict[str, dict[str, list[float]]] = {}

        def note(name: str, seconds: float, server: PeakRss | None = None) -> None:
            row = ingest.setdefault(name, {"t": [], "cpu": [], "rss": []})
            row["t"].append(seconds)
            if server is not None:
                row["cpu"].append(server.cpu)
                row["rss"].append(server.peak)

        for rep in range(args.reps):
            if "baseline" not in skip:
                for fsync in (False, True):
                    note("baseline_sha256_write" + ("_fsync" if fsync else ""),
                         baseline_ingest(src, work / "copy.bin", fsync))
            if "lfs" not in skip or rep == 0:
                drop_dirty()
                with PeakRss(hub.pid) as server:
                    code, seconds = run_curl(["-H", "Expect:", "-T", str(src), "-o", "/dev/null", href])
                assert code == 200, code
                note("lfs_put_curl", seconds, server)
            if "inline-curl" not in skip:
                drop_dirty()
                with PeakRss(hub.pid) as server:
                    code, seconds = run_curl(["-X", "POST", "-H", "Expect:", "-H", "Content-Type: application/x-ndjson",
                                              "-H", f"Authorization: Bearer {hub.token}", "-T", str(body),
                                              "-o", "/dev/null", f"{hub.url}/api/models/{REPO_ID}/commit/main"])
                assert code == 200, code
                note("inline_commit_curl", seconds, server)
            log(f"ingest rep {rep + 1}/{args.reps}: " + ", ".join(
                f"{k} {gbps(size, v['t'][-1]):.3f}" for k, v in ingest.items()) + " GB/s")
        body.unlink(missing_ok=True)
        commit_lfs_file(hub, "f.bin", oid, size)
        if "lfs" in skip:
            ingest.pop("lfs_put_curl", None)
        for name, row in ingest.items():
            phases[name] = summarize(row["t"], size)
            if row["cpu"]:
                phases[name] |= {"server_cpu_s": [round(c, 2) for c in row["cpu"]], "server_peak_rss": max(row["rss"])}
        if body_size:
            phases["inline_commit_curl"]["body_bytes"] = body_size

        # (3b) huggingface_hub upload_file (preupload -> regular -> base64 inline commit) ---
        if "hf-upload" not in skip:
            runs = []
            for i in range(args.reps):
                drop_dirty()
                r = run_child({"op": "upload", "endpoint": hub.url, "token": hub.token, "repo": REPO_ID,
                               "file": str(src), "path": f"hf/rep{i}.bin", "home": str(work / "hf-home")}, hub)
                if not r["ok"]:
                    raise RuntimeError(f"upload_file failed: {r['error']}")
                runs.append(r)
            phases["hf_upload_file"] = summarize([r["seconds"] for r in runs], size) | {
                "client_peak_rss": max(r["peak_rss"] for r in runs),
                "client_rss_before": runs[0]["rss_before"],
                "server_peak_rss": max(r["server_peak_rss"] for r in runs),
                "server_start_rss": runs[0]["server_start_rss"],
                "server_cpu_s": [round(r["server_cpu"], 2) for r in runs],
            }
            log(f"hf_upload_file: {phases['hf_upload_file']['best_gbps']} GB/s best")

        # (4) downloads: dazi /resolve vs the static server, 1 and N clients ---------------
        if "download" not in skip:
            dazi_url = f"{hub.url}/{REPO_ID}/resolve/main/f.bin"
            static_url = f"{static.url}/f.bin"
            for clients in sorted({1, args.clients}):
                t_dazi, t_static, cpus = [], [], []
                timed_downloads(dazi_url, 1, size)  # warm-up (page cache, connections)
                timed_downloads(static_url, 1, size)
                for _ in range(args.reps):  # interleaved, so drift hits both alike
                    with PeakRss(hub.pid) as server:
                        t_dazi.append(timed_downloads(dazi_url, clients, size))
                    cpus.append(server.cpu)
                    t_static.append(timed_downloads(static_url, clients, size))
                d = summarize(t_dazi, size * clients) | {"server_cpu_s": [round(c, 2) for c in cpus]}
                s = summarize(t_static, size * clients)
                d["ratio_per_rep"] = [round(ts / td, 3) for td, ts in zip(t_dazi, t_static, strict=True)]
                phases[f"download_dazi_{clients}c"] = d
                phases[f"download_static_{clients}c"] = s
                log(f"download {clients} client(s): dazi {d['best_gbps']} vs {static.kind} {s['best_gbps']} GB/s")

        # (5) hf_hub_download into a fresh cache ---------------------------------------------
        if "hf-download" not in skip:
            runs = []
            for i in range(args.reps):
                cache = work / f"hf-cache-{i}"
                drop_dirty()
                r = run_child({"op": "download", "endpoint": hub.url, "token": hub.token, "repo": REPO_ID,
                               "path": "f.bin", "cache": str(cache), "size": size, "home": str(work / "hf-home")}, hub)
                shutil.rmtree(cache, ignore_errors=True)
                if not r["ok"]:
                    raise RuntimeError(f"hf_hub_download failed: {r['error']}")
                runs.append(r)
            phases["hf_hub_download"] = summarize([r["seconds"] for r in runs], size) | {
                "client_peak_rss": max(r["peak_rss"] for r in runs)}
            log(f"hf_hub_download: {phases['hf_hub_download']['best_gbps']} GB/s best")

        # (6) the largest inline upload --------------------------------------------------------
        if args.max_inline:
            if args.size_mib < 1024:
                log("--max-inline needs --size-mib >= 1024: skipped")
            else:
                results["max_inline"] = []
                for mib in (int(x) for x in args.max_inline_sizes.split(",") if x.strip()):
                    need = mib * MiB * 4.2 + 2 * 1024 * MiB  # measured: the client peaks at ~4x the file
                    if mem_available() < need:
                        log(f"upload_file of {mib} MiB skipped: needs ~{need / 2**30:.1f} GiB of free memory, "
                            f"{mem_available() / 2**30:.1f} GiB available")
                        results["max_inline"].append({"size_mib": mib, "ok": None,
                                                      "error": "skipped: not enough free memory"})
                        continue
                    path = src if mib == args.size_mib else work / f"inline-{mib}.bin"
                    if path != src:
                        log(f"writing {mib} MiB for the inline-size test")
                        make_random_file(path, mib * MiB)
                    drop_dirty()
                    log(f"upload_file of {mib} MiB (inline)")
                    r = run_child({"op": "upload", "endpoint": hub.url, "token": hub.token, "repo": REPO_ID,
                                   "file": str(path), "path": f"inline-size/{mib}.bin",
                                   "home": str(work / "hf-home")}, hub, timeout=7200)
                    r["size_mib"] = mib
                    if r.get("ok"):
                        r["gbps"] = round(gbps(mib * MiB, r["seconds"]), 3)
                    results["max_inline"].append(r)
                    log(f"  -> {'ok' if r.get('ok') else 'FAILED: ' + r.get('error', '')}; client peak "
                        f"{fmt_bytes(r.get('peak_rss'))}, server peak {fmt_bytes(r.get('server_peak_rss'))}")
                    if path != src:
                        path.unlink()
    finally:
        hub.stop()
        static.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    results["machine"]["loadavg_after"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    print_report(results, static.kind)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


def print_report(results: dict[str, Any], static_kind: str) -> None:
    ph = results["phases"]
    m = results["machine"]
    print(f"\ndazi transfer benchmark — {results['size_bytes'] // MiB} MiB file, {results['reps']} reps, "
          f"{m.get('date')}; static ceiling: {results.get('static_server')}")
    print(f"machine: {m.get('cpus')} CPUs ({m.get('cpu', '?')}), {m.get('mem_gib')} GiB; python {m.get('python')}, "
          f"huggingface_hub {m.get('huggingface_hub')}, uvicorn {m.get('uvicorn')}, curl {m.get('curl')}")
    print(f"CPU busy before the run (other load): {m.get('busy_before_pct')}%; load average after: "
          f"{m.get('loadavg_after')}")
    print("throughput = file bytes / wall time, GB/s = 10^9 B/s\n")
    rows: list[tuple[str, str, str, str, str]] = []

    def row(label: str, key: str, ratio_to: str | None = None, extra: str = "") -> None:
        if key not in ph:
            return
        p = ph[key]
        ratio = ""
        if ratio_to and ratio_to in ph:
            b = ph[ratio_to]
            ratio = f"{p['best_gbps'] / b['best_gbps']:.2f} / {p['median_gbps'] / b['median_gbps']:.2f}"
        rows.append((label, f"{p['best_gbps']:.2f}", f"{p['median_gbps']:.2f}", ratio, extra))

    base = "baseline_sha256_write"
    row("baseline: sha256 + write", "baseline_sha256_write")
    row("baseline: sha256 + write + fsync", "baseline_sha256_write_fsync")
    lfs = ph.get("lfs_put_curl", {})
    row("ingest: LFS PUT (curl)", "lfs_put_curl", base, f"server peak RSS {fmt_bytes(lfs.get('server_peak_rss'))}")
    inl = ph.get("inline_commit_curl", {})
    row("ingest: inline NDJSON commit (curl)", "inline_commit_curl", base,
        f"server peak RSS {fmt_bytes(inl.get('server_peak_rss'))}")
    up = ph.get("hf_upload_file", {})
    row("upload: huggingface_hub upload_file", "hf_upload_file", base,
        f"client peak RSS {fmt_bytes(up.get('client_peak_rss'))}, server {fmt_bytes(up.get('server_peak_rss'))}")
    for key in sorted(k for k in ph if k.startswith("download_dazi_")):
        clients = key.rsplit("_", 1)[-1]
        row(f"download: {static_kind} ({clients})", f"download_static_{clients}")
        row(f"download: dazi /resolve ({clients})", key, f"download_static_{clients}")
    hd = ph.get("hf_hub_download", {})
    row("download: hf_hub_download (fresh cache)", "hf_hub_download", None,
        f"client peak RSS {fmt_bytes(hd.get('client_peak_rss'))}")
    head = ("measurement", "best", "median", "ratio b/m", "")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(5)]
    for r in [head, *rows]:
        print("  ".join(c.ljust(widths[i]) if i == 0 or i == 4 else c.rjust(widths[i]) for i, c in enumerate(r)))
    print("\nratios: ingest rows vs 'sha256 + write' (the issue's baseline); dazi downloads vs the static "
          "server with the same number of clients; 'b/m' = best/best and median/median.")
    for key in sorted(k for k in ph if k.startswith("download_dazi_") and "ratio_per_rep" in ph[k]):
        per = ph[key]["ratio_per_rep"]
        print(f"dazi/static per repetition ({key.rsplit('_', 1)[-1]}): {', '.join(f'{r:.2f}' for r in per)}; "
              f"median {statistics.median(per):.2f}")
    fb = ph.get("baseline_sha256_write_fsync")
    for key, label in (("lfs_put_curl", "LFS PUT"), ("inline_commit_curl", "inline commit")):
        if fb and key in ph:
            print(f"{label} vs sha256 + write + fsync (the hub fsyncs too): "
                  f"{ph[key]['best_gbps'] / fb['best_gbps']:.2f} / {ph[key]['median_gbps'] / fb['median_gbps']:.2f}")
    for r in results.get("max_inline", []):
        if r.get("ok") is None:
            print(f"inline upload_file {r['size_mib']} MiB: {r.get('error')}")
            continue
        status = f"ok in {r['seconds']:.1f} s ({r['gbps']:.2f} GB/s)" if r.get("ok") else f"FAILED: {r.get('error')}"
        print(f"inline upload_file {r['size_mib']} MiB: {status}; client peak RSS {fmt_bytes(r.get('peak_rss'))} "
              f"(before: {fmt_bytes(r.get('rss_before'))}), server peak RSS {fmt_bytes(r.get('server_peak_rss'))} "
              f"(idle {fmt_bytes(r.get('server_start_rss'))})")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == CHILD_FLAG:
        child_main(json.loads(sys.argv[2]))
    else:
        sys.exit(main())
