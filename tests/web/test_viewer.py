"""The dataset viewer: splits, rows, column types and pages of CSV, JSON Lines and Parquet files."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from tests.web.conftest import Browser, unique


def parquet_bytes(rows: int, row_group_size: int, text: str = "row") -> bytes:
    table = pa.table({"id": list(range(rows)), "score": [i / 2 for i in range(rows)],
                      "text": [f"{text} {i}" for i in range(rows)]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=row_group_size)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def dataset(hub_server: Any) -> str:
    owner = hub_server.new_user("data")
    api = HfApi(endpoint=hub_server.url, token=owner.write_token)
    repo_id = f"{owner.name}/{unique('viewer')}"
    api.create_repo(repo_id, repo_type="dataset")
    csv = "text,label\n" + "".join(f"第{i}条评论,{i % 3}\n" for i in range(148))
    csv += '"<script>alert(1)</script>",7\n' + '"' + "长" * 1000 + '",8\n'
    jsonl = "".join(json.dumps({"q": f"question {i}", "tags": ["a", "b"], "n": None}) + "\n" for i in range(5))
    ops = [
        CommitOperationAdd("train.csv", csv.encode()),
        CommitOperationAdd("data/test-00000-of-00001.jsonl", jsonl.encode()),
        CommitOperationAdd("data/validation-00000.parquet", parquet_bytes(250, 60)),
        CommitOperationAdd("extra/notes.json", b'{"not": "rows"}'),
        CommitOperationAdd("train_z_broken.parquet", b"not a parquet file at all"),
    ]
    api.create_commit(repo_id, ops, repo_type="dataset", commit_message="data")
    return repo_id


def test_splits_and_the_first_csv_page(browser: Browser, dataset: str) -> None:
    assert browser.get(f"/datasets/{dataset}/viewer").headers["location"] == f"/datasets/{dataset}/viewer/main"
    page = browser.get(f"/datasets/{dataset}/viewer/main").text
    splits = [page.index(f"Split: {name}") for name in ("train", "validation", "test")]
    assert splits == sorted(splits)
    assert 'aria-current="true">train.csv</a>' in page  # the first readable file of the first split
    assert '<span class="col-name">text</span><span class="col-type">string</span>' in page
    assert '<span class="col-name">label</span><span class="col-type">int64</span>' in page
    assert "150 rows" in page and "第0条评论" in page and "第99条评论" in page and "第100条评论" not in page
    assert 'rel="next"' in page and "Page 1 of 2" in page
    assert f'href="/datasets/{dataset}/viewer"' not in page  # the tab links to the revision's viewer
    card = browser.get(f"/datasets/{dataset}").text
    assert f'href="/datasets/{dataset}/viewer/main">Dataset viewer</a>' in card


def test_second_page_escapes_and_truncates(browser: Browser, dataset: str) -> None:
    page = browser.get(f"/datasets/{dataset}/viewer/main", params={"file": "train.csv", "p": "2"}).text
    assert "第148条评论" not in page and "第147条评论" in page and 'rel="next"' not in page and 'rel="prev"' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "长" * 300 + "…" in page and "长" * 301 not in page


def test_parquet_pages_by_row_group_and_jsonl_types(browser: Browser, dataset: str) -> None:
    url = f"/datasets/{dataset}/viewer/main"
    page = browser.get(url, params={"file": "data/validation-00000.parquet", "p": "3"}).text
    assert "250 rows" in page and "rows 201–250" in page and "row 249" in page and "row 199" not in page
    assert '<span class="col-type">double</span>' in page and "Page 3 of 3" in page
    jsonl = browser.get(url, params={"file": "data/test-00000-of-00001.jsonl"}).text
    assert '<span class="col-name">tags</span><span class="col-type">list&lt;item: string&gt;</span>' in jsonl
    assert "5 rows" in jsonl and 'class="null"' in jsonl


def test_formats_it_cannot_show(browser: Browser, dataset: str) -> None:
    url = f"/datasets/{dataset}/viewer/main"
    other = browser.get(url, params={"file": "extra/notes.json"})
    assert other.status_code == 200 and "cannot show this format" in other.text
    broken = browser.get(url, params={"file": "train_z_broken.parquet"}).text
    assert "could not be read as PARQUET" in broken
    assert browser.get(url, params={"file": "README.md"}).status_code == 404
    assert browser.get(f"/datasets/{dataset}/viewer/no-such-branch").status_code == 404


def test_large_text_files_are_read_in_part(
    hub_server: Any, browser: Browser, hf_api: HfApi, alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dazi.web import tables

    monkeypatch.setattr(tables, "MAX_TEXT_BYTES", 2000)
    repo_id = f"{alice.name}/{unique('bigcsv')}"
    hf_api.create_repo(repo_id, repo_type="dataset", private=True)
    body = "a,b\n" + "".join(f"{i},{'x' * 40}\n" for i in range(500))
    hf_api.upload_file(path_or_fileobj=body.encode(), path_in_repo="train.csv", repo_id=repo_id, repo_type="dataset")
    assert browser.get(f"/datasets/{repo_id}/viewer/main").status_code == 404  # private: not for visitors
    browser.log_in(alice.name, alice.password)
    page = browser.get(f"/datasets/{repo_id}/viewer/main").text
    assert "Only the first 2 kB of this file were read" in page and "rows" in page and "500 rows" not in page


def test_parquet_is_read_by_ranges() -> None:
    from dazi.web import tables

    data = parquet_bytes(20_000, 1_000, "x" * 50)
    ranges: list[tuple[int, int]] = []

    def read(start: int, end: int) -> bytes:
        ranges.append((start, end))
        return data[start:end]

    rows = tables.read_rows(f"test:{len(data)}", "parquet", len(data), read, 57)
    assert rows.total == 20_000 and rows.offset == 5_600 and rows.rows[0][0].text == "5600"
    assert sum(end - start for start, end in ranges) < len(data) / 4
    assert tables.read_rows(f"test:{len(data)}", "parquet", len(data), read, 57) is rows  # cached
