"""The deployment pages: the "Deploy" button of servable model pages, the form, a deployment's page (status,
replicas, usage, the endpoint snippet, the "Try it" box aimed at the deployment) and its management forms
(scale, stop, start, delete with a typed confirmation), the list, and who sees what.

One deployment of the tiny Llama, made through the form, is shared by the module; replicas are real
worker processes, so the tests wait for states by reloading the page (a bounded number of polls)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi

from tests.maas.conftest import PushedModel
from tests.support.network import missing_ml_extra
from tests.web.conftest import Browser, elements, unique

try:
    import torch  # noqa: F401 - the tiny model is made with it; replicas run it
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    missing_ml_extra(exc, "torch")

pytestmark = pytest.mark.ml

_STATUS = re.compile(r'<h1 class="deployment-title">[^<]*<span class="badge dep-\w+" data-status="(\w+)"')
_BOX = re.compile(r'<section class="box tryit" id="try-it"[^>]*>')


@dataclass
class Deployed:
    name: str
    owner: Browser
    model: PushedModel


def logged_in(new_browser: Any, account: Any, lang: str = "en") -> Browser:
    b: Browser = new_browser(lang)
    b.log_in(account.name, account.password)
    return b


def post(b: Browser, url: str, data: dict[str, str], page: str) -> httpx.Response:
    """Submit a form with the CSRF token of the page it is on."""
    return b.client.post(url, data={"csrf_token": b.csrf(page), **data})


def status(html: str) -> str:
    found = _STATUS.search(html)
    assert found, html[:2000]
    return found.group(1)


def wait(b: Browser, name: str, until: Any = lambda html: status(html) == "running") -> str:
    html = ""
    for _ in range(1200):
        answer = b.get(f"/deployments/{name}")
        assert answer.status_code == 200, answer.text[:500]
        html = answer.text
        if until(html):
            return html
        time.sleep(0.1)
    raise AssertionError(f"the deployment never reached the state; last status {status(html)}")


def create(b: Browser, **fields: str) -> httpx.Response:
    form = {"model": "", "name": "", "owner": "", "revision": "main", "replicas": "1", **fields}
    return post(b, "/deployments/new", form, "/deployments/new")


@pytest.fixture(scope="module")
def deployed(hub_server: Any, new_browser_module: Any, tiny_llama: PushedModel) -> Iterator[Deployed]:
    user = hub_server.new_user("deployer")
    owner = logged_in(new_browser_module, user)
    name = unique("web-chat")
    made = create(owner, model=tiny_llama.repo_id, name=name, owner=user.name)
    assert made.status_code == 303, made.text[:2000]
    assert made.headers["location"] == f"/deployments/{name}?done=created"
    yield Deployed(name, owner, tiny_llama)
    owner.client.post(f"/deployments/{name}/delete", data={"csrf_token": owner.csrf("/deployments"), "confirm": name})


@pytest.fixture(scope="module")
def new_browser_module(hub_server: Any) -> Iterator[Any]:
    made: list[Browser] = []

    def make(lang: str | None = "en") -> Browser:
        made.append(Browser(hub_server.url, lang))
        return made[-1]

    yield make
    for b in made:
        b.close()


# -- the Deploy button and the form -----------------------------------------------------------------


def test_deploy_button_for_logged_in_readers_of_servable_models(
    hub_server: Any, new_browser: Any, tiny_llama: PushedModel
) -> None:
    button = f'href="/deployments/new?model={tiny_llama.repo_id}"'
    assert button not in new_browser("en").get(f"/{tiny_llama.repo_id}").text  # anonymous
    reader = logged_in(new_browser, hub_server.new_user("reader"))
    assert button in reader.get(f"/{tiny_llama.repo_id}").text
    assert 'href="/deployments"' in reader.get("/").text  # the header's link

    owner = hub_server.new_user("cards")
    readme_only = f"{owner.name}/{unique('card-only')}"
    api = HfApi(endpoint=hub_server.url, token=owner.write_token)
    api.create_repo(readme_only)
    api.upload_file(path_or_fileobj=b"# Just a card\n", path_in_repo="README.md", repo_id=readme_only)
    assert "/deployments/new" not in reader.get(f"/{readme_only}").text

    form = reader.get(f"/deployments/new?model={tiny_llama.repo_id}")
    assert form.status_code == 200
    fields = {a.get("name"): a for t, a in elements(form.text) if t in ("input", "select")}
    assert fields["name"]["value"] == "tiny-chat"  # suggested from the repo's name
    assert fields["model"]["value"] == tiny_llama.repo_id and fields["revision"]["value"] == "main"
    assert fields["replicas"]["max"] == str(hub_server.hub.settings.deployments_max_replicas)
    anonymous = new_browser("en").get("/deployments/new?model=x/y")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login?next=")


def test_bad_input_re_renders_the_form_with_a_message(
    hub_server: Any, new_browser: Any, tiny_llama: PushedModel, deployed: Deployed
) -> None:
    user = hub_server.new_user("wrong")
    b = logged_in(new_browser, user)
    good = {"model": tiny_llama.repo_id, "name": unique("ok"), "owner": user.name}
    cases = [
        ({"name": "Bad_Name"}, 400, "This name cannot be used"),
        ({"name": deployed.name}, 409, "A deployment with this name already exists"),
        ({"replicas": "99"}, 400, "Replicas must be a whole number from 1 to"),
        ({"replicas": "two"}, 400, "Replicas must be a whole number from 1 to"),
        ({"model": f"{user.name}/nothing-here"}, 404, "This model or revision was not found"),
        ({"revision": "no-such-branch"}, 404, "This model or revision was not found"),
        ({"owner": deployed.model.owner.name}, 403, "You cannot create deployments for this owner"),
    ]
    for change, code, message in cases:
        answer = create(b, **{**good, **change})
        assert answer.status_code == code, (change, answer.text[:1000])
        assert message in answer.text, change
        assert 'action="/deployments/new"' in answer.text  # the form again, with what was typed
    owner = hub_server.new_user("cards")
    readme_only = f"{owner.name}/{unique('card-only')}"
    HfApi(endpoint=hub_server.url, token=owner.write_token).create_repo(readme_only)
    refused = create(b, **{**good, "model": readme_only})
    assert refused.status_code == 400 and "This model cannot be deployed" in refused.text
    chinese = logged_in(new_browser, user, "zh-CN")
    assert "不能使用此名称" in create(chinese, **{**good, "name": "-x-"}).text


# -- the deployment's page --------------------------------------------------------------------------


def test_the_page_shows_the_running_deployment_and_its_try_it_box(hub_server: Any, deployed: Deployed) -> None:
    html = wait(deployed.owner, deployed.name)
    assert f'<a href="/{deployed.model.repo_id}">{deployed.model.repo_id}</a>' in html
    assert 'data-replica="0"' in html and 'data-replica-status="ready"' in html
    text = unescape(html)
    assert f'OpenAI(base_url="{hub_server.url}/v1", api_key="<your token>")' in text
    assert f'model="{deployed.name}"' in text
    found = _BOX.search(html)
    assert found
    box = elements(found.group(0))[0][1]
    assert box["data-model"] == deployed.name and box["data-tryit"] == "chat"
    assert box["data-endpoint"] == "/v1/chat/completions"
    # the box's call works as the logged-in user, with the page's token
    answer = deployed.owner.client.post(
        "/v1/chat/completions",
        json={"model": deployed.name, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2},
        headers={"Accept": "application/json", "X-CSRF-Token": box["data-csrf"]},
    )
    assert answer.status_code == 200, answer.text
    counted = wait(deployed.owner, deployed.name, lambda page: 'data-requests="0"' not in page)
    assert 'data-requests="1"' in counted
    listed = deployed.owner.get("/deployments").text
    assert f'data-deployment="{deployed.name}"' in listed
    model_page = deployed.owner.get(f"/{deployed.model.repo_id}").text
    assert f'href="/deployments/{deployed.name}"' in model_page  # "Deployments of this model"


def test_others_get_a_404(hub_server: Any, new_browser: Any, deployed: Deployed) -> None:
    other = logged_in(new_browser, hub_server.new_user("other"))
    assert other.get(f"/deployments/{deployed.name}").status_code == 404
    assert new_browser("en").get(f"/deployments/{deployed.name}").status_code == 404
    assert other.get("/deployments/no-such-deployment").status_code == 404
    refused = post(other, f"/deployments/{deployed.name}/scale", {"replicas": "2"}, "/deployments")
    assert refused.status_code == 404
    assert f'data-deployment="{deployed.name}"' not in other.get("/deployments").text
    assert f'href="/deployments/{deployed.name}"' not in other.get(f"/{deployed.model.repo_id}").text
    assert deployed.owner.get("/deployments/Bad_Name").status_code == 404


def test_scale_stop_start_and_delete(deployed: Deployed) -> None:
    b, name, page = deployed.owner, deployed.name, f"/deployments/{deployed.name}"
    scaled = post(b, f"{page}/scale", {"replicas": "2"}, page)
    assert scaled.status_code == 303 and scaled.headers["location"] == f"{page}?done=scaled"
    assert "2 of 2 ready" in wait(b, name, lambda html: "2 of 2 ready" in html)
    too_many = post(b, f"{page}/scale", {"replicas": "0"}, page)
    assert too_many.status_code == 400 and "Replicas must be a whole number from 1 to" in too_many.text

    assert post(b, f"{page}/stop", {}, page).status_code == 303
    stopped = b.get(page).text
    assert status(stopped) == "stopped" and f'action="{page}/start"' in stopped
    assert post(b, f"{page}/start", {}, page).status_code == 303
    wait(b, name)

    wrong = post(b, f"{page}/delete", {"confirm": "not-it"}, page)
    assert wrong.status_code == 400 and "The name you typed does not match" in wrong.text
    assert b.get(page).status_code == 200
    gone = post(b, f"{page}/delete", {"confirm": name}, page)
    assert gone.status_code == 303 and gone.headers["location"] == "/deployments?done=deleted"
    assert b.get(page).status_code == 404
    assert f'data-deployment="{name}"' not in b.get("/deployments").text
