"""The pages, over HTTP against the live hub: home, lists with facets, repo pages, files, commits, lineage."""

from __future__ import annotations

import re
from typing import Any

import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from tests.web.conftest import Browser, unique
from tests.web.seed import Demo, safetensors_bytes, seed


@pytest.fixture(scope="module")
def demo(hub_server: Any) -> Demo:
    owner = hub_server.new_user("demo")
    api = HfApi(endpoint=hub_server.url, token=owner.write_token)
    return seed(api, owner.name, hub_server.hub)


def test_home_shows_trending_new_and_most_downloaded(browser: Browser, demo: Demo) -> None:
    page = browser.get("/").text
    for title in ("Trending models", "Trending datasets", "New models", "New datasets", "Most downloaded models"):
        assert title in page
    assert f'href="/{demo.base}"' in page and f'href="/datasets/{demo.dataset}"' in page


def test_list_pages_filter_by_facets_sort_and_paginate(browser: Browser, demo: Demo) -> None:
    owner = demo.owner
    page = browser.get("/models", params={"owner": owner}).text
    assert '<span class="total">5</span>' in page
    for facet, value in (("pipeline_tag", "text-classification"), ("license", "apache-2.0"), ("language", "zh")):
        assert f"{facet}={value}" in page  # offered as a facet link
    both = browser.get("/models", params={"owner": owner, "library": "transformers", "language": "en"}).text
    assert '<span class="total">1</span>' in both and f'href="/{demo.base}"' in both
    tagged = browser.get("/models", params={"owner": owner, "tag": "sentiment"}).text
    assert '<span class="total">1</span>' in tagged
    by_downloads = browser.get("/models", params={"owner": owner, "sort": "downloads"}).text
    order = re.findall(rf'href="/({owner}/[^"]+)"', by_downloads)
    assert order[:2] == [demo.base, demo.derived["quantized"]]
    datasets = browser.get("/datasets", params={"owner": owner}).text
    assert '<span class="total">1</span>' in datasets and "电商评论数据集" in datasets
    bad = browser.get("/models", params={"p": "x", "sort": "nonsense"})
    assert bad.status_code == 200


def test_pagination_links(hub_server: Any, browser: Browser, alice: Any) -> None:
    from dazi.web.browse import PAGE_SIZE

    api = HfApi(endpoint=hub_server.url, token=alice.write_token)
    marker = unique("many")
    for i in range(PAGE_SIZE + 1):
        api.create_repo(f"{alice.name}/{marker}-{i:02d}")
    first = browser.get("/models", params={"search": marker}).text
    assert first.count('class="repo-card"') == PAGE_SIZE and 'rel="next"' in first
    second = browser.get("/models", params={"search": marker, "p": "2"}).text
    assert second.count('class="repo-card"') == 1 and 'rel="prev"' in second


def test_model_page(browser: Browser, demo: Demo) -> None:
    page = browser.get(f"/{demo.base}").text
    assert "<h1>qingxu-bert</h1>" in page  # the card, rendered
    assert "情绪小助手" in page  # display name
    assert "---" not in page.split('<div class="markdown">')[1].split("</article>")[0]  # no raw front matter
    assert "<dt>License</dt><dd>apache-2.0</dd>" in page
    assert "<dt>Task</dt><dd>Text Classification</dd>" in page
    assert "<dt>Languages</dt><dd>zh, en</dd>" in page
    assert "<dt>Parameters</dt><dd>139K</dd>" in page  # from the safetensors header, in the blob store
    assert "BF16 · F32" in page
    assert page.count('<rect x="') == 30  # downloads chart: one bar per day
    assert '<p class="big-number">604</p>' in page
    assert "添加更新记录" in page  # last commit


def test_use_this_model_snippets_point_at_this_hub(hub_server: Any, browser: Browser, demo: Demo) -> None:
    page = browser.get(f"/{demo.base}").text
    url = hub_server.url
    assert f"snapshot_download(&#34;{demo.base}&#34;, endpoint=&#34;{url}&#34;)" in page
    assert f"os.environ[&#34;HF_ENDPOINT&#34;] = &#34;{url}&#34;" in page
    assert f"pipeline(&#34;text-classification&#34;, model=&#34;{demo.base}&#34;)" in page
    assert f"os.environ[&#34;MODELSCOPE_ENDPOINT&#34;] = &#34;{url}&#34;" in page
    assert f"git clone {url}/{demo.base}" in page
    dataset = browser.get(f"/datasets/{demo.dataset}").text
    assert f"load_dataset(&#34;{demo.dataset}&#34;)" in dataset
    assert f"dataset_snapshot_download(&#34;{demo.dataset}&#34;)" in dataset
    assert f"git clone {url}/datasets/{demo.dataset}" in dataset


def test_tree_blob_and_revisions(hub_server: Any, browser: Browser, demo: Demo, alice: Any) -> None:
    tree = browser.get(f"/{demo.base}/tree/main").text
    assert f'href="/{demo.base}/blob/main/config.json"' in tree
    assert f'href="/{demo.base}/resolve/main/model.safetensors"' in tree and ">LFS<" in tree
    assert 'href="/' + demo.base + '/tree/v1.0"' in tree  # the tag in the revision switcher
    blob = browser.get(f"/{demo.base}/blob/main/config.json").text
    assert '<span class="hl-nt">&#34;architectures&#34;</span>' in blob or 'class="hl-' in blob
    tensors = browser.get(f"/{demo.base}/blob/main/model.safetensors").text
    assert "139,459" in tensors and "<td>BF16</td><td>139,264</td>" in tensors
    assert "stored with Git LFS" in tensors
    tagged = browser.get(f"/{demo.base}/tree/v1.0")
    assert tagged.status_code == 200 and "CHANGELOG.md" not in tagged.text
    assert browser.get(f"/{demo.base}/tree/main/no-such-folder").status_code == 404
    assert browser.get(f"/{demo.base}/tree/no-such-branch").status_code == 404
    api = HfApi(endpoint=hub_server.url, token=alice.write_token)
    repo_id = f"{alice.name}/{unique('branches')}"
    api.create_repo(repo_id)
    api.create_branch(repo_id, branch="feature/x")
    api.create_commit(repo_id, [CommitOperationAdd("deep/er/file.py", b"x = 1\n"),
                                CommitOperationAdd("blob.dat", b"\x00\x01\x02" * 10)],
                      commit_message="on a branch", revision="feature/x")
    folder = browser.get(f"/{repo_id}/tree/feature%2Fx/deep/er")
    assert folder.status_code == 200 and f'href="/{repo_id}/blob/feature%2Fx/deep/er/file.py"' in folder.text
    assert "This is a binary file" in browser.get(f"/{repo_id}/blob/feature%2Fx/blob.dat").text
    assert browser.get(f"/{repo_id}/tree").headers["location"] == f"/{repo_id}/tree/main"


def test_large_files_are_not_shown(hub_server: Any, browser: Browser, alice: Any) -> None:
    from dazi.web.highlight import MAX_VIEW_BYTES

    api = HfApi(endpoint=hub_server.url, token=alice.write_token)
    repo_id = f"{alice.name}/{unique('big')}"
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"a" * (MAX_VIEW_BYTES + 1), path_in_repo="big.txt", repo_id=repo_id)
    page = browser.get(f"/{repo_id}/blob/main/big.txt").text
    assert "too large to show" in page and f'href="/{repo_id}/resolve/main/big.txt"' in page


def test_commit_history_and_diffs(hub_server: Any, browser: Browser, alice: Any) -> None:
    api = HfApi(endpoint=hub_server.url, token=alice.write_token)
    repo_id = f"{alice.name}/{unique('history')}"
    api.create_repo(repo_id)
    api.upload_file(path_or_fileobj=b"line one\nline two\nline three\n", path_in_repo="notes.txt", repo_id=repo_id)
    api.create_commit(repo_id, [CommitOperationAdd("notes.txt", b"line one\nline 2 <b>\nline three\n"),
                                CommitOperationAdd("w.safetensors", safetensors_bytes({"w": ("F16", [4, 4])}))],
                      commit_message="Edit notes\n\nwith a body")
    history = browser.get(f"/{repo_id}/commits/main").text
    assert history.count('class="commit-title"') == 3
    sha = re.search(rf'href="/{repo_id}/commit/([0-9a-f]{{40}})"', history).group(1)  # type: ignore[union-attr]
    page = browser.get(f"/{repo_id}/commit/{sha}").text
    assert "Edit notes" in page and "with a body" in page
    assert "2 files changed" in page
    assert '<tr class="del"><td class="ln">2</td><td class="ln"></td>' in page
    assert "line 2 &lt;b&gt;" in page  # escaped
    assert "Git LFS file" in page  # the safetensors file: sizes, no diff
    assert browser.get(f"/{repo_id}/commit/{sha[:7]}").status_code == 200  # short ids work
    assert browser.get(f"/{repo_id}/commit/{'0' * 40}").status_code == 404


def test_lineage(browser: Browser, demo: Demo) -> None:
    base = browser.get(f"/{demo.base}").text
    for label in ("Adapters", "Merges", "Quantizations", "Finetunes"):
        assert label in base
    tree = browser.get(f"/{demo.base}/lineage").text
    for relation, repo_id in demo.derived.items():
        assert f'id="{relation}"' in tree and f'href="/{repo_id}"' in tree
    child = browser.get(f"/{demo.derived['adapter']}").text
    assert "Base model" in child and f'href="/{demo.base}"' in child
    lonely = browser.get(f"/{demo.derived['adapter']}/lineage").text
    assert f'href="/{demo.base}"' in lonely


def test_profile(browser: Browser, demo: Demo) -> None:
    page = browser.get(f"/{demo.owner}").text
    assert re.search(r'<h2>Models <span class="total">5</span></h2>', page)
    assert re.search(r'<h2>Datasets <span class="total">1</span></h2>', page)
    assert browser.get("/nobody-by-this-name").status_code == 404


def test_static_files(browser: Browser) -> None:
    css = browser.get("/static/site.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "max-age" in css.headers["cache-control"]
    assert browser.get("/static/../routes.py").status_code == 404
    assert browser.get("/static/%2e%2e/routes.py").status_code == 404


def test_broken_cards_and_empty_repos(hub_server: Any, browser: Browser, alice: Any) -> None:
    api = HfApi(endpoint=hub_server.url, token=alice.write_token)
    empty = f"{alice.name}/{unique('empty')}"
    api.create_repo(empty)
    assert "No card yet" in browser.get(f"/{empty}").text
    assert browser.get(f"/datasets/{empty}").status_code == 404  # a model is not a dataset
    broken = f"{alice.name}/{unique('broken')}"
    api.create_repo(broken)
    from tests.api.test_listing_and_cards import ndjson_commit  # the stock client refuses to send bad YAML

    readme = b"---\nlicense: [unclosed\n---\n# Still here\n"
    assert ndjson_commit(hub_server, alice.write_token, broken, {"README.md": readme}, "bad card").status_code == 200
    page = browser.get(f"/{broken}").text
    assert "could not be read" in page and "<h1>Still here</h1>" in page


def test_unexpected_errors_are_html_500_pages(browser: Browser, monkeypatch: pytest.MonkeyPatch) -> None:
    from dazi.web import browse

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(browse, "home", boom)
    page = browser.get("/")
    assert page.status_code == 500 and "Something went wrong" in page.text and "a bug" not in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
