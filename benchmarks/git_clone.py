#!/usr/bin/env python3
"""git clone benchmark: dazi's git smart-HTTP + LFS against ``git http-backend`` behind nginx.

Builds one repository (``--files`` small files, 1,000 by default, and one ``--lfs-mib`` MiB git-LFS file,
1 GiB by default), pushes it to a fresh dazi hub with ``git push`` (git-lfs uploads the large file through
the batch API), and serves the very same repository as the ceiling:

- git objects: a bare copy (``git clone --bare --no-local``, then ``git gc``) served by Debian's
  ``git http-backend`` through ``fcgiwrap`` behind nginx — the stock smart-HTTP server, C all the way;
- the LFS object: nginx itself, ``sendfile on``; the LFS batch answer is a fixed JSON document that nginx
  returns for ``…/info/lfs/objects/batch`` (one object, a plain download href). So the ceiling's LFS path is
  the same git-lfs client fetching the same bytes from the fastest static server at hand.

Then, ``--reps`` times (default 3), alternating which server goes first, in fresh folders:

1. ``GIT_LFS_SKIP_SMUDGE=1 git clone`` — the git part alone (the refs, the pack, the checkout of the small
   files and of the LFS pointer);
2. ``git lfs pull`` in that clone — the LFS download (batch request, 1 GiB GET, checkout of the file);
3. a plain ``git clone`` — both together, the way users clone.

It prints seconds (best and median), MB/s (10^6 B/s of file content: the small files' bytes for 1, the
LFS file's bytes for 2, all of it for 3) and the ratio dazi / ceiling (time ceiling / time dazi: 1.0 means
as fast). Everything stays on 127.0.0.1. Needs git, git-lfs, nginx and fcgiwrap (``apt-get install
fcgiwrap nginx-light``); ``--install`` installs the missing ones with apt-get. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))  # transfer.py is a sibling script, not a package
from transfer import (
    NS,
    Hub,
    child_env,
    find_nginx,
    free_port,
    log,
    machine_busy,
    machine_notes,
    make_random_file,
)

MiB = 1 << 20
ROOT = Path(__file__).resolve().parents[1]
REPO = "git-clone"
HTTP_BACKEND = "/usr/lib/git-core/git-http-backend"


def git(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {proc.stderr.strip()[-2000:]}")
    return proc


def git_env(home: Path, **extra: str) -> dict[str, str]:
    return child_env({"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0", **extra})


def make_home(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    env = git_env(home)
    for key, value in (("user.name", "bench"), ("user.email", "bench@localhost"), ("init.defaultBranch", "main")):
        git("config", "--global", key, value, cwd=home, env=env)
    git("lfs", "install", "--skip-repo", cwd=home, env=env)


def build_source(src: Path, home: Path, files: int, file_size: int, lfs_size: int) -> tuple[int, str]:
    """The repository to serve: ``files`` small text files in 20 folders and one LFS file; returns
    (bytes of small files, sha256 of the LFS file)."""
    env = git_env(home)
    src.mkdir(parents=True)
    git("init", "-q", cwd=src, env=env)
    small = 0
    for i in range(files):
        path = src / f"dir{i % 20:02d}" / f"file{i:04d}.txt"
        path.parent.mkdir(exist_ok=True)
        data = os.urandom(file_size // 2).hex().encode()
        path.write_bytes(data)
        small += len(data)
    git("lfs", "track", "*.bin", cwd=src, env=env)
    oid = make_random_file(src / "weights" / "model.bin", lfs_size)
    git("add", "-A", cwd=src, env=env)
    git("commit", "-q", "-m", "benchmark content", cwd=src, env=env)
    return small, oid


class Ceiling:
    """nginx: ``git http-backend`` through fcgiwrap for git, the LFS object as a static file."""

    def __init__(self, work: Path):
        self.dir = work / "ceiling"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, source: Path, home: Path, oid: str, size: int) -> str:
        env = git_env(home)
        repos = self.dir / "repos"
        repos.mkdir(parents=True)
        git("clone", "-q", "--bare", "--no-local", str(source), str(repos / "repo.git"), cwd=self.dir, env=env)
        git("gc", "-q", "--aggressive", cwd=repos / "repo.git", env=env)
        git("config", "http.receivepack", "false", cwd=repos / "repo.git", env=env)
        (self.dir / "lfs").mkdir()
        shutil.copyfile(source / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid, self.dir / "lfs" / oid)
        batch = json.dumps(
            {
                "transfer": "basic",
                "objects": [{"oid": oid, "size": size, "actions": {"download": {"href": f"{self.url}/lfs/{oid}"}}}],
            }
        )
        sock = self.dir / "fcgiwrap.sock"
        log_file = (self.dir / "fcgiwrap.log").open("wb")
        self.procs.append(
            subprocess.Popen(
                ["fcgiwrap", "-c", "4", "-s", f"unix:{sock}"],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        conf = self.dir / "nginx.conf"
        conf.write_text(self._conf(repos, sock, batch))
        nginx = find_nginx()
        assert nginx is not None
        self.procs.append(
            subprocess.Popen(
                [nginx, "-p", str(self.dir), "-c", str(conf), "-e", str(self.dir / "error.log")],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with suppress(httpx.HTTPError):
                r = httpx.get(f"{self.url}/repo.git/info/refs?service=git-upload-pack", timeout=2, trust_env=False)
                if r.status_code == 200:
                    return f"{self.url}/repo.git"
            time.sleep(0.2)
        raise RuntimeError(f"the ceiling server did not start; see {self.dir}")

    def _conf(self, repos: Path, sock: Path, batch: str) -> str:
        import getpass

        user = f"user {getpass.getuser()};\n" if os.geteuid() == 0 else ""
        temps = "\n".join(f"    {m}_temp_path {self.dir / ('tmp-' + m)};" for m in ("client_body", "fastcgi"))
        return f"""{user}worker_processes auto;
daemon off;
pid {self.dir / "nginx.pid"};
error_log {self.dir / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_max_body_size 0;
{temps}
    server {{
        listen 127.0.0.1:{self.port};
        location = /repo.git/info/lfs/objects/batch {{
            default_type application/vnd.git-lfs+json;
            return 200 '{batch}';
        }}
        location /lfs/ {{
            alias {self.dir / "lfs"}/;
            default_type application/octet-stream;
        }}
        location ~ ^(/repo\\.git/.*)$ {{
            fastcgi_pass unix:{sock};
            fastcgi_buffering off;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME {HTTP_BACKEND};
            fastcgi_param GIT_PROJECT_ROOT {repos};
            fastcgi_param GIT_HTTP_EXPORT_ALL 1;
            fastcgi_param PATH_INFO $1;
            fastcgi_param REMOTE_USER $remote_user;
        }}
    }}
}}
"""

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGQUIT if "nginx" in str(proc.args) else signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs = []


def push_to_dazi(hub: Hub, source: Path, home: Path) -> tuple[str, float]:
    r = httpx.post(
        f"{hub.url}/api/repos/create",
        headers=hub.auth,
        trust_env=False,
        json={"name": REPO, "organization": NS, "type": "model"},
    )
    r.raise_for_status()
    host = hub.url.removeprefix("http://")
    push_url = f"http://oauth2:{hub.token}@{host}/{NS}/{REPO}"
    started = time.perf_counter()
    # --force: the content replaces the hub's initial commit (the owner may rewrite a branch).
    git("push", "-q", "--force", push_url, "HEAD:main", cwd=source, env=git_env(home))
    return f"{hub.url}/{NS}/{REPO}", time.perf_counter() - started


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds of a process and all its descendants, the finished ones included (their time is
    added to the parent's ``cutime``/``cstime`` when it reaps them), from /proc."""
    children: dict[int, list[int]] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError, IndexError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                stats[int(entry.name)] = fields
                children.setdefault(int(fields[1]), []).append(int(entry.name))
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        if pid in stats:
            total += sum(int(x) for x in stats[pid][11:15]) / os.sysconf("SC_CLK_TCK")
        todo.extend(children.get(pid, []))
    return total


def timed(*args: str, cwd: Path, env: dict[str, str], server: list[int]) -> tuple[float, float]:
    """Wall seconds of a git command, and the CPU seconds the ``server`` processes spent meanwhile (for the
    ceiling none are counted: fcgiwrap reaps git http-backend without adding its time to its own)."""
    cpu = sum(tree_cpu_seconds(p) for p in server)
    started = time.perf_counter()
    git(*args, cwd=cwd, env=env)
    seconds = time.perf_counter() - started
    return seconds, sum(tree_cpu_seconds(p) for p in server) - cpu


def measure(url: str, work: Path, home: Path, oid: str, rep: int, name: str, server: list[int]) -> dict[str, float]:
    """One repetition against one server: the git part, the LFS part, a plain clone; folders removed after."""
    base = work / "clones"
    base.mkdir(exist_ok=True)
    skip = git_env(home, GIT_LFS_SKIP_SMUDGE="1")
    dest = base / f"{name}-{rep}-a"
    out: dict[str, float] = {}
    out["git"], out["git_cpu"] = timed("clone", "-q", url, str(dest), cwd=base, env=skip, server=server)
    out["pack_bytes"] = sum(p.stat().st_size for p in (dest / ".git" / "objects" / "pack").glob("*.pack"))
    out["lfs"], out["lfs_cpu"] = timed("lfs", "pull", cwd=dest, env=git_env(home), server=server)
    assert (dest / "weights" / "model.bin").stat().st_size > 200, "git lfs pull left a pointer"
    shutil.rmtree(dest)
    dest = base / f"{name}-{rep}-b"
    out["full"], out["full_cpu"] = timed("clone", "-q", url, str(dest), cwd=base, env=git_env(home), server=server)
    lfs_copy = dest / ".git" / "lfs" / "objects" / oid[:2] / oid[2:4] / oid
    assert lfs_copy.exists(), "the clone did not fetch the LFS object"
    shutil.rmtree(dest)
    os.sync()
    return out


def measure_git(url: str, work: Path, home: Path, rep: int, name: str, server: list[int]) -> dict[str, float]:
    """The git part alone (``GIT_LFS_SKIP_SMUDGE=1``): cheap, so it is repeated more often for a steadier median."""
    base = work / "clones"
    dest = base / f"{name}-g{rep}"
    out: dict[str, float] = {}
    env = git_env(home, GIT_LFS_SKIP_SMUDGE="1")
    out["git_only"], out["git_only_cpu"] = timed("clone", "-q", url, str(dest), cwd=base, env=env, server=server)
    shutil.rmtree(dest)
    return out


def summary(times: list[float], nbytes: int) -> dict[str, Any]:
    return {
        "seconds": [round(t, 3) for t in times],
        "best_s": round(min(times), 3),
        "median_s": round(statistics.median(times), 3),
        "best_mbps": round(nbytes / min(times) / 1e6, 1),
        "median_mbps": round(nbytes / statistics.median(times) / 1e6, 1),
    }


def print_report(res: dict[str, Any]) -> None:
    m = res["machine"]
    print(
        f"\ndazi git clone benchmark — {res['files']} files ({res['small_bytes'] / 1e6:.1f} MB) + one "
        f"{res['lfs_bytes'] // MiB} MiB LFS file, {res['reps']} reps, {m.get('date')}"
    )
    print(
        f"machine: {m.get('cpus')} CPUs ({m.get('cpu', '?')}), {m.get('mem_gib')} GiB; git {res['git']}, "
        f"{res['git_lfs']}; CPU busy before: {m.get('busy_before_pct')}%"
    )
    print(f"ceiling: {res['ceiling']}")
    print(f"push to dazi (git push + git-lfs upload): {res['push_seconds']:.1f} s\n")
    print(
        f"{'measurement':<44} {'dazi s (best/med)':>19} {'ceiling s':>15} {'dazi MB/s':>11} {'ratio':>11}"
        f" {'dazi CPU s':>11}"
    )
    labels = {
        "git": "clone, GIT_LFS_SKIP_SMUDGE=1 (git part)",
        "lfs": "git lfs pull (LFS download)",
        "full": "plain git clone (both)",
        "git_only": f"git part alone, {res.get('git_reps', 0)} more reps",
    }
    for key, label in labels.items():
        if key not in res["dazi"]:
            continue
        d, c = res["dazi"][key], res["ceiling_results"][key]
        ratio = f"{c['best_s'] / d['best_s']:.2f}/{c['median_s'] / d['median_s']:.2f}"
        print(
            f"{label:<44} {d['best_s']:>8.2f} / {d['median_s']:<8.2f} {c['best_s']:>6.2f} / {c['median_s']:<6.2f}"
            f" {d['median_mbps']:>11.1f} {ratio:>11} {d['server_cpu_s']:>11.2f}"
        )
    print(
        f"\npack received: dazi {res['dazi']['pack_bytes'] / 1e6:.1f} MB, ceiling "
        f"{res['ceiling_results']['pack_bytes'] / 1e6:.1f} MB (dazi sends no deltas)"
    )
    print("ratio = ceiling time / dazi time (best/median); 1.00 = as fast as git http-backend + nginx")
    print("dazi CPU s = median CPU seconds the dazi server process spent per run")


def ensure_tools(install: bool) -> None:
    missing = [
        t for t in ("git", "git-lfs", "fcgiwrap") if shutil.which(t) is None and not Path(f"/usr/sbin/{t}").exists()
    ]
    if find_nginx() is None:
        missing.append("nginx-light")
    if not missing:
        return
    if not install:
        raise SystemExit(f"missing: {', '.join(missing)} (apt-get install {' '.join(missing)}, or pass --install)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "install", "-y", *missing], env=env, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=1000, help="small files (default 1000)")
    parser.add_argument("--file-size", type=int, default=4096, help="bytes per small file (default 4096)")
    parser.add_argument("--lfs-mib", type=int, default=1024, help="size of the LFS file in MiB (default 1024)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument("--git-reps", type=int, default=10, help="more clones of the git part alone (default 10)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=ROOT / "benchmarks" / ".work" / "git-clone",
        help="scratch folder, deleted at the end unless --keep",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--install", action="store_true", help="apt-get install fcgiwrap / nginx-light if missing")
    args = parser.parse_args(argv)
    ensure_tools(args.install)
    work: Path = args.workdir.resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    home = work / "home"
    make_home(home)
    res: dict[str, Any] = {
        "machine": machine_notes(),
        "files": args.files,
        "reps": args.reps,
        "lfs_bytes": args.lfs_mib * MiB,
    }
    res["machine"]["busy_before_pct"] = machine_busy()
    env = git_env(home)
    res["git"] = git("--version", cwd=work, env=env).stdout.split()[-1]
    res["git_lfs"] = git("lfs", "version", cwd=work, env=env).stdout.split()[0]
    hub = Hub(work)
    ceiling = Ceiling(work)
    try:
        log(f"building the repository: {args.files} files + {args.lfs_mib} MiB LFS file")
        res["small_bytes"], oid = build_source(work / "source", home, args.files, args.file_size, args.lfs_mib * MiB)
        hub.start()
        dazi_url, res["push_seconds"] = push_to_dazi(hub, work / "source", home)
        log(f"pushed to dazi in {res['push_seconds']:.1f} s: {dazi_url}")
        ceiling_url = ceiling.start(work / "source", home, oid, args.lfs_mib * MiB)
        res["ceiling"] = f"git http-backend via fcgiwrap + nginx, LFS as a static file from nginx: {ceiling_url}"
        runs: dict[str, list[dict[str, float]]] = {"dazi": [], "ceiling": []}
        quick: dict[str, list[dict[str, float]]] = {"dazi": [], "ceiling": []}
        for rep in range(args.reps):
            order = [("dazi", dazi_url, [hub.pid]), ("ceiling", ceiling_url, [])]
            for name, url, server in order if rep % 2 == 0 else order[::-1]:
                runs[name].append(measure(url, work, home, oid, rep, name, server))
                r = runs[name][-1]
                log(
                    f"rep {rep + 1}/{args.reps} {name}: git {r['git']:.2f} s, lfs {r['lfs']:.2f} s, "
                    f"full {r['full']:.2f} s"
                )
        for rep in range(args.git_reps):
            for name, url, server in order if rep % 2 == 0 else order[::-1]:
                quick[name].append(measure_git(url, work, home, rep, name, server))
        res["git_reps"] = args.git_reps
        nbytes = {"git": res["small_bytes"], "lfs": res["lfs_bytes"], "full": res["small_bytes"] + res["lfs_bytes"]}
        for name, key in (("dazi", "dazi"), ("ceiling", "ceiling_results")):
            res[key] = {k: summary([r[k] for r in runs[name]], nbytes[k]) for k in nbytes}
            for k in nbytes if name == "dazi" else ():
                res[key][k]["server_cpu_s"] = round(statistics.median(r[f"{k}_cpu"] for r in runs[name]), 2)
            res[key]["pack_bytes"] = runs[name][0]["pack_bytes"]
            if quick[name]:
                res[key]["git_only"] = summary([r["git_only"] for r in quick[name]], res["small_bytes"])
                if name == "dazi":
                    cpu = statistics.median(r["git_only_cpu"] for r in quick[name])
                    res[key]["git_only"]["server_cpu_s"] = round(cpu, 2)
        res["machine"]["loadavg_after"] = os.getloadavg()
    finally:
        hub.stop()
        ceiling.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print_report(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
