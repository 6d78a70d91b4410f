"""Fixtures for driving the stock ``git`` and ``git-lfs`` against the hub on loopback.

Every git process gets an isolated environment: ``HOME`` is a fresh folder whose ``.gitconfig`` names a
user and installs the git-lfs filters (``git lfs install --skip-repo``), ``GIT_CONFIG_NOSYSTEM=1`` hides the
machine's own configuration, and ``GIT_TERMINAL_PROMPT=0`` turns a credential prompt into a failure.
Credentials travel in the URL (``http://oauth2:<token>@127.0.0.1:<port>/<owner>/<name>``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

if shutil.which("git") is None or shutil.which("git-lfs") is None:  # pragma: no cover - system deps
    pytest.skip("git and git-lfs are needed (make system-deps)", allow_module_level=True)

PREFIX = {"model": "", "dataset": "datasets/"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Git:
    """Runs git in an isolated home and builds clone URLs for the hub."""

    home: Path
    hub_url: str
    workdir: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.home),
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_ASKPASS": "",
            "SSH_ASKPASS": "",
            "LANG": "C",
            "LC_ALL": "C",
            "NO_PROXY": "127.0.0.1,localhost",
        }
        env.update(extra)
        return env

    def run(
        self, *args: str, cwd: Path | None = None, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd or self.workdir,
            env=self.env(**(env or {})),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"git {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
        return proc

    def url(
        self, repo_id: str, token: str | None = None, *, kind: str = "model", suffix: str = "", user: str = "oauth2"
    ) -> str:
        parts = urlsplit(self.hub_url)
        auth = f"{user}:{token}@" if token else ""
        return f"{parts.scheme}://{auth}{parts.netloc}/{PREFIX[kind]}{repo_id}{suffix}"

    def clone(self, url: str, name: str, *args: str, env: dict[str, str] | None = None) -> Path:
        self.run("clone", "-q", *args, url, name, env=env)
        return self.workdir / name

    def commit_all(self, repo: Path, message: str) -> str:
        self.run("add", "-A", cwd=repo)
        self.run("commit", "-q", "-m", message, cwd=repo)
        return self.head(repo)

    def head(self, repo: Path, rev: str = "HEAD") -> str:
        return self.run("rev-parse", rev, cwd=repo).stdout.strip()

    def log(self, repo: Path, rev: str = "HEAD") -> list[str]:
        return self.run("log", "--format=%H", rev, cwd=repo).stdout.split()

    def remote_refs(self, repo: Path) -> dict[str, str]:
        out = self.run("ls-remote", "origin", cwd=repo).stdout
        return {name: oid for oid, name in (line.split("\t") for line in out.splitlines())}


@pytest.fixture(scope="session")
def git_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("git-home")
    git = Git(home, "", home)
    git.run("config", "--global", "user.name", "Git Tester")
    git.run("config", "--global", "user.email", "git-tester@example.org")
    git.run("config", "--global", "init.defaultBranch", "main")
    git.run("config", "--global", "advice.detachedHead", "false")
    git.run("lfs", "install", "--skip-repo")
    return home


@pytest.fixture
def git(git_home: Path, hub_server, tmp_path: Path) -> Iterator[Git]:  # type: ignore[no-untyped-def]
    yield Git(git_home, hub_server.url, tmp_path)
