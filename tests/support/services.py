"""Throwaway services for the tests: a PostgreSQL cluster, moto's S3 server, and the hub on loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@dataclass
class Postgres:
    """A PostgreSQL cluster made with initdb in a temporary folder (as the postgres user when root)."""

    root: Path
    port: int

    @classmethod
    def start(cls, root: Path) -> Postgres:
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not bins and not shutil.which("initdb"):
            raise RuntimeError("PostgreSQL binaries not found (Debian's postgresql package provides them)")
        pgbin = Path(bins[-1]) if bins else Path(shutil.which("initdb") or "").parent
        root.mkdir(parents=True, exist_ok=True)
        for p in [root, *root.parents]:
            if p == Path("/"):
                break
            try:
                p.chmod(p.stat().st_mode | 0o755)
            except PermissionError:
                break
        port = free_port()
        pg = cls(root, port)
        pg._run([str(pgbin / "initdb"), "-D", str(root / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8"])
        pg._run([str(pgbin / "pg_ctl"), "-D", str(root / "data"), "-o",
                 f"-p {port} -k {root} -c fsync=off -c listen_addresses=127.0.0.1 -c max_connections=200",
                 "-l", str(root / "log"), "-w", "start"])
        pg.pgbin = pgbin
        return pg

    def _run(self, args: list[str]) -> None:
        if os.geteuid() == 0:
            import pwd

            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            cmd = ["su", "postgres", "-s", "/bin/sh", "-c", " ".join(_quote(a) for a in args)]
        else:
            cmd = args
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self._run([str(self.pgbin / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"])
        shutil.rmtree(self.root, ignore_errors=True)


def _quote(arg: str) -> str:
    import shlex

    return shlex.quote(arg)


class Moto:
    """moto's S3 server, in-process, on loopback."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.stop()


class Redis:
    """A redis-server on loopback with no persistence, in a temporary folder (Debian's redis-server)."""

    def __init__(self, root: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found (scripts/system-deps.sh installs Debian's redis-server)")
        root.mkdir(parents=True, exist_ok=True)
        self.root, self.port = root, free_port()
        self.process = subprocess.Popen(
            [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", str(root)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


class LiveServer:
    """The hub's app served by uvicorn in a background thread (over TLS when given a certificate and key)."""

    def __init__(self, app: object, port: int, *, ssl_certfile: str | None = None, ssl_keyfile: str | None = None):
        import uvicorn

        self.port = port
        self.url = f"{'https' if ssl_certfile else 'http'}://127.0.0.1:{port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on",
                                timeout_keep_alive=30, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_for_port(port)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
