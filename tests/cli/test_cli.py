"""The ``dazi`` command: accounts, tokens, organizations, fsck, the data-dir option, and ``dazi serve``.

Administration commands run in-process through typer's CliRunner; ``dazi serve`` runs as a real
subprocess on a free port. Every test has its own data folder (SQLite + local files).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from dazi.cli import app
from tests.support.services import free_port

SERVER_START_TIMEOUT = 90.0


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAZI_")}
    env.update(extra)
    return env


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for key in list(os.environ):
        if key.startswith("DAZI_"):
            monkeypatch.delenv(key)
    return CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def dazi(runner: CliRunner, data_dir: Path | None, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    argv = list(args) + (["--data-dir", str(data_dir)] if data_dir is not None else [])
    return runner.invoke(app, argv, env=env, catch_exceptions=False)


def ok(result) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return str(result.stdout)


def last_line(stdout: str) -> str:
    lines = stdout.rstrip("\n").split("\n")
    return lines[-1]


# -- a live server ------------------------------------------------------------------------------


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path  # stderr
    out: Path  # stdout

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_server(data_dir: Path, *, bootstrap: bool = True, env: dict[str, str] | None = None) -> Server:
    port = free_port()
    log = data_dir.parent / f"serve-{port}.stderr"
    out = data_dir.parent / f"serve-{port}.stdout"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "dazi", "serve", "--port", str(port), "--data-dir", str(data_dir)]
    if not bootstrap:
        args.append("--no-bootstrap")
    with log.open("wb") as err_file, out.open("wb") as out_file:
        proc = subprocess.Popen(args, stdout=out_file, stderr=err_file, env=env or clean_env())
    server = Server(proc, f"http://127.0.0.1:{port}", log, out)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"dazi serve exited with {proc.returncode}:\n{server.stderr()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"dazi serve did not answer /healthz in {SERVER_START_TIMEOUT} s:\n{server.stderr()}")


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop()


def whoami(url: str, token: str) -> httpx.Response:
    return httpx.get(f"{url}/api/whoami-v2", headers={"Authorization": f"Bearer {token}"}, timeout=30)


# -- users ------------------------------------------------------------------------------------------


def test_users_create_and_list(runner: CliRunner, data_dir: Path) -> None:
    out = ok(dazi(runner, data_dir, "users", "create", "root", "--email", "root@example.org", "--password",
                  "correct-horse", "--admin"))
    assert last_line(out) == "root"
    out = ok(dazi(runner, data_dir, "users", "create", "plain", "--email", "plain@example.org"))
    assert last_line(out) == "plain"
    listed = ok(dazi(runner, data_dir, "users", "list")).splitlines()
    assert listed == ["root\troot@example.org\tadmin", "plain\tplain@example.org"]
    assert (data_dir / "dazi.db").is_file()


@pytest.mark.parametrize(("args", "message"), [
    (["dup", "--email", "other@example.org"], "taken"),  # same name
    (["other", "--email", "dup@example.org"], "already registered"),  # same email
    (["DUP", "--email", "upper@example.org"], "taken"),  # names are case-insensitive
    (["short", "--email", "s@example.org", "--password", "1234567"], "8 characters"),
    (["bad--name", "--email", "b@example.org"], "Invalid"),
    (["api", "--email", "api@example.org"], "reserved"),
    (["noemail", "--email", "not-an-email"], "email"),
])
def test_users_create_errors(runner: CliRunner, data_dir: Path, args: list[str], message: str) -> None:
    ok(dazi(runner, data_dir, "users", "create", "dup", "--email", "dup@example.org"))
    result = dazi(runner, data_dir, "users", "create", *args)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert result.stdout == ""
    assert len(ok(dazi(runner, data_dir, "users", "list")).splitlines()) == 1


def test_users_set_password(runner: CliRunner, data_dir: Path) -> None:
    ok(dazi(runner, data_dir, "users", "create", "pw", "--email", "pw@example.org", "--password", "first-pass"))
    ok(dazi(runner, data_dir, "users", "set-password", "pw", "--password", "second-pass"))
    assert dazi(runner, data_dir, "users", "set-password", "pw", "--password", "short").exit_code == 1
    assert dazi(runner, data_dir, "users", "set-password", "ghost", "--password", "long-enough").exit_code == 1
    from dazi.accounts.services import authenticate_password
    from dazi.cli._common import opened_hub

    with opened_hub(data_dir) as hub, hub.db.read() as session:
        assert authenticate_password(session, "pw", "second-pass").name == "pw"


# -- tokens -----------------------------------------------------------------------------------------


def test_tokens_create_prints_token_last(runner: CliRunner, data_dir: Path) -> None:
    ok(dazi(runner, data_dir, "users", "create", "tok", "--email", "tok@example.org"))
    result = dazi(runner, data_dir, "tokens", "create", "tok", "--role", "write", "--label", "laptop")
    out = ok(result)
    token = last_line(out)
    assert re.fullmatch(r"dazi_[A-Za-z0-9_-]{20,}", token), out
    assert "shown only once" in result.stderr
    assert token not in result.stderr
    listed = ok(dazi(runner, data_dir, "tokens", "list", "tok"))
    assert "laptop" in listed and "write" in listed and "active" in listed
    assert token not in listed  # never the secret
    for bad in (["ghost"], ["tok", "--role", "admin"]):
        result = dazi(runner, data_dir, "tokens", "create", *bad)
        assert result.exit_code == 1 and result.stderr.startswith("error: ")
        assert result.stdout == ""


def test_tokens_work_on_a_live_server_and_revoke(runner: CliRunner, data_dir: Path,
                                                 servers: list[Server]) -> None:
    ok(dazi(runner, data_dir, "users", "create", "live", "--email", "live@example.org"))
    write = last_line(ok(dazi(runner, data_dir, "tokens", "create", "live", "--role", "write", "--label", "w")))
    read = last_line(ok(dazi(runner, data_dir, "tokens", "create", "live", "--label", "r")))
    server = start_server(data_dir, bootstrap=False)
    servers.append(server)
    me = whoami(server.url, write)
    assert me.status_code == 200, me.text
    assert me.json()["name"] == "live"
    assert me.json()["auth"]["accessToken"]["role"] == "write"
    assert me.json()["auth"]["accessToken"]["displayName"] == "w"
    assert whoami(server.url, read).json()["auth"]["accessToken"]["role"] == "read"
    # a token created while the server runs works at once
    late = last_line(ok(dazi(runner, data_dir, "tokens", "create", "live", "--label", "late")))
    assert whoami(server.url, late).status_code == 200
    # revoke by label, then by the token itself
    ok(dazi(runner, data_dir, "tokens", "revoke", "live", "w"))
    r = whoami(server.url, write)
    assert r.status_code == 401
    assert r.headers["x-error-message"] == "Invalid credentials in Authorization header"
    assert whoami(server.url, read).status_code == 200
    ok(dazi(runner, data_dir, "tokens", "revoke", "live", read))
    assert whoami(server.url, read).status_code == 401
    assert "revoked" in ok(dazi(runner, data_dir, "tokens", "list", "live"))
    # revoking something unknown is an error
    assert dazi(runner, data_dir, "tokens", "revoke", "live", "no-such-token").exit_code == 1
    assert whoami(server.url, late).status_code == 200


# -- organizations ----------------------------------------------------------------------------------


def test_orgs_create_and_members(runner: CliRunner, data_dir: Path, servers: list[Server]) -> None:
    for name in ("boss", "writer", "reader"):
        ok(dazi(runner, data_dir, "users", "create", name, "--email", f"{name}@example.org"))
    tokens = {name: last_line(ok(dazi(runner, data_dir, "tokens", "create", name, "--role", "write")))
              for name in ("boss", "writer", "reader")}
    assert last_line(ok(dazi(runner, data_dir, "orgs", "create", "acme", "--owner", "boss"))) == "acme"
    ok(dazi(runner, data_dir, "orgs", "add-member", "acme", "writer", "--role", "write"))
    ok(dazi(runner, data_dir, "orgs", "add-member", "acme", "reader"))  # default: read
    # errors
    for args in (["orgs", "create", "acme", "--owner", "boss"],  # exists
                 ["orgs", "create", "boss", "--owner", "boss"],  # a user's name
                 ["orgs", "create", "new-org", "--owner", "ghost"],
                 ["orgs", "add-member", "acme", "writer", "--role", "owner"],
                 ["orgs", "add-member", "nope", "writer"],
                 ["orgs", "add-member", "acme", "ghost"],
                 ["orgs", "remove-member", "acme", "ghost"]):
        result = dazi(runner, data_dir, *args)
        assert result.exit_code == 1, args
        assert result.stderr.startswith("error: "), args
    server = start_server(data_dir, bootstrap=False)
    servers.append(server)
    orgs = {o["name"] for o in whoami(server.url, tokens["writer"]).json()["orgs"]}
    assert orgs == {"acme"}

    def create(token: str, name: str) -> int:
        return httpx.post(f"{server.url}/api/repos/create", json={"name": name, "organization": "acme"},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code

    assert create(tokens["boss"], "by-boss") == 200
    assert create(tokens["writer"], "by-writer") == 200
    assert create(tokens["reader"], "by-reader") == 403
    ok(dazi(runner, data_dir, "orgs", "add-member", "acme", "reader", "--role", "write"))  # change the role
    assert create(tokens["reader"], "by-reader") == 200
    ok(dazi(runner, data_dir, "orgs", "remove-member", "acme", "writer"))
    assert create(tokens["writer"], "after-removal") == 403
    assert whoami(server.url, tokens["writer"]).json()["orgs"] == []


# -- admin ------------------------------------------------------------------------------------------


def test_admin_fsck_and_gc_on_a_fresh_hub(runner: CliRunner, data_dir: Path) -> None:
    result = dazi(runner, data_dir, "admin", "fsck")
    ok(result)
    assert "fsck: clean" in result.stderr
    assert result.stdout == ""  # problems only go to stdout
    result = dazi(runner, data_dir, "admin", "gc", "--grace", "0")
    ok(result)
    assert "removed 0 blobs" in result.stderr
    result = dazi(runner, data_dir, "admin", "gc", "--dry-run")
    ok(result)
    assert "would remove" in result.stderr


def test_admin_fsck_reports_a_corrupt_blob(runner: CliRunner, data_dir: Path) -> None:
    from dazi.cli._common import opened_hub

    with opened_hub(data_dir) as hub:
        writer = hub.blobs.begin()
        writer.write(b"some content")
        digest = writer.finish()
        writer.publish()
        path = hub.blobs.local_path(digest)
    assert path is not None
    path.chmod(0o644)
    path.write_bytes(b"tampered")
    result = dazi(runner, data_dir, "admin", "fsck")
    assert result.exit_code == 1
    assert digest in result.stdout
    assert "problem" in result.stderr


def test_db_upgrade(runner: CliRunner, data_dir: Path) -> None:
    data_dir.mkdir(parents=True)
    result = dazi(runner, data_dir, "db", "upgrade")
    ok(result)
    assert "up to date" in result.stderr
    assert (data_dir / "dazi.db").is_file()
    ok(dazi(runner, data_dir, "db", "upgrade"))  # idempotent
    ok(dazi(runner, data_dir, "users", "create", "after", "--email", "after@example.org"))


def test_db_upgrade_on_a_new_data_dir(tmp_path: Path) -> None:
    """On a data folder that does not exist yet, ``dazi db upgrade`` must create it like every other command
    does (through Hub.open), not die with a traceback ending in sqlite's "unable to open database file"."""
    data_dir = tmp_path / "brand-new"
    result = subprocess.run([sys.executable, "-m", "dazi", "db", "upgrade", "--data-dir", str(data_dir)],
                            env=clean_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert (data_dir / "dazi.db").is_file()


# -- where the data lives -----------------------------------------------------------------------------


def test_honours_dazi_data_dir(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env_dir = tmp_path / "from-env"
    monkeypatch.chdir(tmp_path)
    ok(dazi(runner, None, "users", "create", "envuser", "--email", "env@example.org",
            env={"DAZI_DATA_DIR": str(env_dir)}))
    assert (env_dir / "dazi.db").is_file()
    assert not (tmp_path / ".dazi").exists()
    assert ok(dazi(runner, env_dir, "users", "list")).startswith("envuser\t")
    # the option wins over the variable
    other = tmp_path / "from-option"
    ok(dazi(runner, other, "users", "create", "optuser", "--email", "opt@example.org",
            env={"DAZI_DATA_DIR": str(env_dir)}))
    assert ok(dazi(runner, other, "users", "list")).startswith("optuser\t")
    assert "optuser" not in ok(dazi(runner, env_dir, "users", "list"))
    # neither: ./.dazi
    ok(dazi(runner, None, "users", "create", "cwduser", "--email", "cwd@example.org"))
    assert (tmp_path / ".dazi" / "dazi.db").is_file()


def test_subprocess_honours_dazi_data_dir(tmp_path: Path) -> None:
    env_dir = tmp_path / "sub-env"
    env = clean_env(DAZI_DATA_DIR=str(env_dir))
    created = subprocess.run([sys.executable, "-m", "dazi", "users", "create", "subuser", "--email",
                              "sub@example.org"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() == "subuser"
    token = subprocess.run([sys.executable, "-m", "dazi", "tokens", "create", "subuser"], env=env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert token.returncode == 0, token.stderr
    assert token.stdout.strip().startswith("dazi_")
    assert len(token.stdout.strip().splitlines()) == 1
    assert "shown only once" in token.stderr
    assert (env_dir / "dazi.db").is_file()


# -- serve ------------------------------------------------------------------------------------------


def test_serve_first_start_prints_admin_credentials(tmp_path: Path, servers: list[Server]) -> None:
    data_dir = tmp_path / "fresh"
    server = start_server(data_dir)
    servers.append(server)
    health = httpx.get(f"{server.url}/healthz", timeout=10)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    log = server.stderr()
    password = re.search(r"password:\s+(\S+)", log)
    token = re.search(r"token:\s+(dazi_\S+)", log)
    assert password and token, log
    assert token.group(1) not in server.stdout()  # messages go to stderr, never to stdout
    me = whoami(server.url, token.group(1))
    assert me.status_code == 200
    assert me.json()["name"] == "admin"
    assert me.json()["isAdmin"] is True
    assert me.json()["auth"]["accessToken"]["role"] == "write"
    server.stop()
    # a second start creates nothing and prints no credentials
    again = start_server(data_dir)
    servers.append(again)
    assert "password:" not in again.stderr()
    assert whoami(again.url, token.group(1)).status_code == 200
    again.stop()
    from dazi.accounts.services import authenticate_password
    from dazi.cli._common import opened_hub

    with opened_hub(data_dir) as hub, hub.db.read() as session:
        assert authenticate_password(session, "admin", password.group(1)).is_admin


def test_serve_no_bootstrap_creates_no_admin(runner: CliRunner, tmp_path: Path, servers: list[Server]) -> None:
    data_dir = tmp_path / "quiet"
    server = start_server(data_dir, bootstrap=False)
    servers.append(server)
    assert httpx.get(f"{server.url}/healthz", timeout=10).status_code == 200
    assert "password:" not in server.stderr()
    server.stop()
    assert ok(dazi(runner, data_dir, "users", "list")) == ""


def test_secret_key_is_generated_once(runner: CliRunner, tmp_path: Path) -> None:
    data_dir = tmp_path / "secret"
    ok(dazi(runner, data_dir, "admin", "fsck"))
    key = (data_dir / "secret_key").read_text()
    assert len(key) >= 32
    ok(dazi(runner, data_dir, "admin", "fsck"))
    assert (data_dir / "secret_key").read_text() == key
    assert (data_dir / "secret_key").stat().st_mode & 0o077 == 0


def test_help_and_unknown_command(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for group in ("serve", "users", "tokens", "orgs", "admin", "db"):
        assert group in result.stdout
    assert runner.invoke(app, ["no-such-command"]).exit_code == 2
