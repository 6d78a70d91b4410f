"""Likes: the button on repo pages, the profile's list, the Hugging Face routes and the migration."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from tests.support.migrations import migrated_database
from tests.web.conftest import Browser, section, unique


@pytest.fixture
def signed_in(new_browser: Any, alice: Any) -> Browser:
    b: Browser = new_browser()
    b.log_in(alice.name, alice.password)
    return b


def likes_of(hf_api: HfApi, repo_id: str, repo_type: str = "model") -> int:
    info = hf_api.repo_info(repo_id, repo_type=repo_type)
    return int(info.likes or 0)


def api(hub_server: Any, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=hub_server.url, headers=headers, timeout=60)


def test_like_button_is_idempotent_and_counts(signed_in: Browser, browser: Browser, alice: Any, hf_api: HfApi) -> None:
    repo_id = f"{alice.name}/{unique('liked')}"
    hf_api.create_repo(repo_id)
    page = signed_in.get(f"/{repo_id}").text
    assert f'action="/{repo_id}/like"' in page and 'aria-pressed="false"' in page
    for _ in range(2):
        done = signed_in.post_form(f"/{repo_id}/like", {})
        assert done.status_code == 303 and done.headers["location"] == f"/{repo_id}"
    assert likes_of(hf_api, repo_id) == 1
    page = signed_in.get(f"/{repo_id}").text
    assert f'action="/{repo_id}/unlike"' in page and 'aria-pressed="true"' in page
    assert '<span class="like-count">1</span>' in page
    for _ in range(2):
        assert signed_in.post_form(f"/{repo_id}/unlike", {}).status_code == 303
    assert likes_of(hf_api, repo_id) == 0
    # Without the form's token nothing changes.
    assert signed_in.client.post(f"/{repo_id}/like", data={}).status_code == 403
    assert likes_of(hf_api, repo_id) == 0


def test_anonymous_visitors_are_sent_to_log_in(browser: Browser, alice: Any, hf_api: HfApi) -> None:
    repo_id = f"{alice.name}/{unique('anon')}"
    hf_api.create_repo(repo_id, repo_type="dataset")
    page = browser.get(f"/datasets/{repo_id}").text
    assert f'action="/datasets/{repo_id}/like"' in page
    answer = browser.post_form(f"/datasets/{repo_id}/like", {})
    assert answer.status_code == 303 and answer.headers["location"] == f"/login?next=/datasets/{repo_id}"
    assert likes_of(hf_api, repo_id, "dataset") == 0


def test_private_repos_cannot_be_liked_by_outsiders(new_browser: Any, bob: Any, alice: Any, hf_api: HfApi) -> None:
    repo_id = f"{alice.name}/{unique('secret')}"
    hf_api.create_repo(repo_id, private=True)
    b: Browser = new_browser()
    b.log_in(bob.name, bob.password)
    assert b.post_form(f"/{repo_id}/like", {}).status_code == 404
    assert likes_of(hf_api, repo_id) == 0


def test_profile_lists_liked_repos_hiding_private_ones(
    hub_server: Any, signed_in: Browser, browser: Browser, alice: Any, hf_api: HfApi
) -> None:
    org = hub_server.new_org(alice)
    public, private = f"{alice.name}/{unique('pub')}", f"{org}/{unique('priv')}"
    hf_api.create_repo(public)
    hf_api.create_repo(private, repo_type="dataset", private=True)
    assert signed_in.post_form(f"/{public}/like", {}).status_code == 303
    assert signed_in.post_form(f"/datasets/{private}/like", {}).status_code == 303
    own = section(signed_in.get(f"/{alice.name}").text, 'class="liked"', "</section>")
    assert public.split("/")[1] in own and private.split("/")[1] in own
    assert '<span class="total">2</span>' in own
    seen = section(browser.get(f"/{alice.name}").text, 'class="liked"', "</section>")
    assert public.split("/")[1] in seen and private.split("/")[1] not in seen
    assert '<span class="total">1</span>' in seen
    zh = browser.get(f"/{alice.name}?lang=zh_CN").text
    assert "点赞" in zh


def test_hf_routes_like_unlike_and_list(hub_server: Any, alice: Any, bob: Any, hf_api: HfApi) -> None:
    repo_id = f"{alice.name}/{unique('api')}"
    hf_api.create_repo(repo_id)
    hf_api.create_repo(repo_id + "-ds", repo_type="dataset")
    with api(hub_server, alice.write_token) as a, api(hub_server, bob.write_token) as b:
        assert a.post(f"/api/models/{repo_id}/like").status_code == 200
        assert a.post(f"/api/models/{repo_id}/like").status_code == 200  # idempotent
        assert b.post(f"/api/models/{repo_id}/like").status_code == 200
        assert a.post(f"/api/datasets/{repo_id}-ds/like").status_code == 200
    assert likes_of(hf_api, repo_id) == 2
    liked = hf_api.list_liked_repos(alice.name)
    assert liked.models == [repo_id] and liked.datasets == [repo_id + "-ds"] and liked.total == 2
    likers = list(hf_api.list_repo_likers(repo_id))
    assert [u.username for u in likers] == [alice.name, bob.name]
    hf_api.unlike(repo_id)
    hf_api.unlike(repo_id)  # idempotent
    assert likes_of(hf_api, repo_id) == 1
    assert [u.username for u in hf_api.list_repo_likers(repo_id)] == [bob.name]
    assert hf_api.list_liked_repos(alice.name).models == []


def test_hf_routes_check_credentials_and_visibility(hub_server: Any, alice: Any, bob: Any, hf_api: HfApi) -> None:
    repo_id = f"{alice.name}/{unique('guard')}"
    hf_api.create_repo(repo_id, private=True)
    hf_api.unlike(repo_id)  # nothing to take back: fine
    with api(hub_server, None) as anon, api(hub_server, alice.read_token) as reader:
        assert anon.post(f"/api/models/{repo_id}/like").status_code == 401
        assert reader.post(f"/api/models/{repo_id}/like").status_code == 403
    with api(hub_server, alice.write_token) as a:
        assert a.post(f"/api/models/{repo_id}/like").status_code == 200
    bob_api = HfApi(endpoint=hub_server.url, token=bob.write_token)
    with pytest.raises(RepositoryNotFoundError):
        bob_api.unlike(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        list(bob_api.list_repo_likers(repo_id))
    assert bob_api.list_liked_repos(alice.name).models == []
    assert hf_api.list_liked_repos(alice.name).models == [repo_id]
    with pytest.raises(HfHubHTTPError) as raised:
        hf_api.list_liked_repos("no-such-user-" + unique("x"))
    assert raised.value.response.status_code == 404


def test_deleting_a_repo_removes_its_likes(hf_api: HfApi, alice: Any, hub_server: Any) -> None:
    repo_id = f"{alice.name}/{unique('gone')}"
    hf_api.create_repo(repo_id)
    with api(hub_server, alice.write_token) as a:
        assert a.post(f"/api/models/{repo_id}/like").status_code == 200
    assert hf_api.list_liked_repos(alice.name).models == [repo_id]
    hf_api.delete_repo(repo_id)
    assert hf_api.list_liked_repos(alice.name).models == []


def test_the_migration_is_reversible(hub_server: Any, tmp_path: Any) -> None:
    from alembic import command

    from dazi.likes import services as likes

    with migrated_database(hub_server, tmp_path, "liker") as (cfg, db, actor):
        with db.write() as session:
            assert likes.like(session, actor, "model", "liker/m1").likes == 1
        command.downgrade(cfg, "0004")
        with db.read() as session:
            tables = set(session.connection().dialect.get_table_names(session.connection()))
        assert "repo_likes" not in tables and "jobs" in tables
        command.upgrade(cfg, "head")
        with db.write() as session:
            repo = likes.like(session, actor, "model", "liker/m1")
            assert repo.likes == 1
            assert [r.repo.name for r in likes.liked_repos(session, actor, "liker")] == ["m1"]
