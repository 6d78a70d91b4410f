"""The ``modelscope`` console scripts (1.40.2 and 1.30) and logins that later processes rely on."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.contract.modelscope.conftest import TlsHub, old_sdk_env, tree_hashes, write_files
from tests.support.ms_legacy import ms_env, run_cli, run_new

pytestmark = pytest.mark.contract


def test_new_sdk_login_is_kept_for_later_processes(hub_server: Any, alice: Any, tmp_path: Path) -> None:
    env = ms_env(tmp_path / "home", MODELSCOPE_ENDPOINT=hub_server.url)
    login = run_new("""
        from modelscope.hub.api import HubApi
        git_token, _cookies = HubApi().login(P["token"])
        emit(git_token)
    """, env, {"token": alice.write_token})
    assert login == alice.write_token
    assert (tmp_path / "home/.modelscope/credentials/cookies").is_file()
    later = run_new("""
        from modelscope.hub.api import HubApi
        api = HubApi()
        api.create_repo(P["repo"], repo_type="model", visibility="private")
        emit({"user": api._api.whoami().username, "private": api.get_model(P["repo"])["Visibility"]})
    """, env, {"repo": f"{alice.name}/by-cookie"})
    assert later == {"user": alice.name, "private": 1}  # (anonymous processes get NotExistError: test_new_sdk)


def test_new_cli_upload_and_download(hub_server: Any, alice: Any, tmp_path: Path) -> None:
    folder = write_files(tmp_path / "src", {"config.json": b"{}", "w/model.safetensors": os.urandom(70_000)})
    repo = f"{alice.name}/cli-new"
    env = ms_env(tmp_path / "home")
    out = run_cli(["modelscope", "--endpoint", hub_server.url, "--token", alice.write_token, "upload", repo,
                   str(folder), "--commit-message", "cli upload", "--disable-tqdm"], env)
    assert "cli upload" in out or "Committed" in out
    env_with_endpoint = dict(env, MODELSCOPE_ENDPOINT=hub_server.url)
    run_cli(["modelscope", "download", repo, "--local-dir", str(tmp_path / "all")], env_with_endpoint)
    assert tree_hashes(tmp_path / "all").items() >= tree_hashes(folder).items()
    run_cli(["modelscope", "download", repo, "config.json", "--local-dir", str(tmp_path / "one")],
            env_with_endpoint)
    assert sorted(tree_hashes(tmp_path / "one")) == ["config.json"]


@pytest.mark.legacy
def test_old_cli_over_tls(tls_hub: TlsHub, alice: Any, tmp_path: Path) -> None:
    folder = write_files(tmp_path / "src", {"README.md": b"# cli\n", "w.bin": os.urandom(10_000)})
    env = old_sdk_env(tls_hub, tmp_path / "home")
    repo = f"{alice.name}/cli-old"
    run_cli(["modelscope", "login", "--token", alice.write_token], env, old=True)
    run_cli(["modelscope", "upload", repo, str(folder), "--commit-message", "old cli"], env, old=True)
    run_cli(["modelscope", "download", "--model", repo, "--local_dir", str(tmp_path / "got")], env, old=True)
    assert tree_hashes(tmp_path / "got") == tree_hashes(folder)
    run_cli(["modelscope", "download", repo, "w.bin", "--local_dir", str(tmp_path / "one")], env, old=True)
    assert tree_hashes(tmp_path / "one") == {"w.bin": tree_hashes(folder)["w.bin"]}


def test_serve_takes_certificate_and_key_together(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from dazi.cli import app

    cert = tmp_path / "cert.pem"
    cert.write_text("not used")
    result = CliRunner().invoke(app, ["serve", "--data-dir", str(tmp_path / "data"), "--ssl-certfile", str(cert)])
    assert result.exit_code == 1 and "--ssl-certfile and --ssl-keyfile go together" in result.stderr
    assert not (tmp_path / "data").exists()
