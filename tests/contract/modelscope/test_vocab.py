"""The ModelScope ↔ hub vocabulary (pure functions of ``dazi.mscompat.vocab``)."""

from __future__ import annotations

import pytest

from dazi.errors import BadRequest
from dazi.mscompat import vocab
from dazi.repos.cards import parse_card


@pytest.mark.parametrize(("sent", "stored"), [
    ("Apache License 2.0", "apache-2.0"), ("apache license 2.0", "apache-2.0"), ("Apache-2.0", "apache-2.0"),
    ("MIT License", "mit"), ("MIT", "mit"), ("GPL-3.0", "gpl-3.0"), ("LGPL-2.1", "lgpl-2.1"),
    ("CC-BY-NC-4.0", "cc-by-nc-4.0"), ("Unlicense", "unlicense"), ("", None), (None, None),
])
def test_licenses_become_lowercase_spdx(sent: str | None, stored: str | None) -> None:
    assert vocab.license_id(sent) == stored


@pytest.mark.parametrize("bad", ["not a license!", "x" * 70, 5])
def test_bad_licenses_are_refused(bad: object) -> None:
    with pytest.raises(BadRequest):
        vocab.license_id(bad)


@pytest.mark.parametrize(("sent", "private"), [
    (5, False), ("5", False), ("public", False), (1, True), ("1", True), ("private", True),
    (3, True), ("internal", True),
])
def test_visibility(sent: object, private: bool) -> None:
    assert vocab.private_from(sent) is private


@pytest.mark.parametrize("bad", [0, 2, 4, "secret", None, True])
def test_bad_visibility_is_refused(bad: object) -> None:
    with pytest.raises(BadRequest):
        vocab.private_from(bad)


def test_card_from_the_creation_fields() -> None:
    text = vocab.card_from({"License": "Apache License 2.0", "Tasks": "text-generation, fill-mask",
                            "ChineseName": "小模型", "Description": "First paragraph.\n\nMore."}, "tiny")
    assert text is not None
    card = parse_card(text)
    assert card.data == {"license": "apache-2.0", "tasks": ["text-generation", "fill-mask"], "chinese_name": "小模型"}
    assert card.display_name == "小模型" and card.description == "First paragraph."
    assert vocab.card_from({"License": "", "ChineseName": None}, "tiny") is None
    assert parse_card(vocab.card_from({"Description": "Only prose."}, "x")).description == "Only prose."


def test_branch_names() -> None:
    assert vocab.ms_branch("main", real_master=False) == "master"
    assert vocab.ms_branch("main", real_master=True) == "main"
    assert vocab.ms_branch("dev", real_master=False) == "dev"
