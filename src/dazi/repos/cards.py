"""Model and dataset cards: the README's YAML front matter.

``parse_card`` never raises: a bad card yields an error message and empty
metadata, so that a broken README never breaks the repo.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

_FRONT = re.compile(r"\A\ufeff?---[ \t]*\r?\n(.*?)(?:\r?\n)?^---[ \t]*$", re.S | re.M)
RELATIONS = ("adapter", "merge", "quantized", "finetune")


@dataclass
class Card:
    data: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    # -- normalised views of the metadata -------------------------------------------

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        if isinstance(value, list) and value and isinstance(value[0], str):
            value = value[0]
        return value.strip()[:100] if isinstance(value, str) and value.strip() else None

    def strings(self, key: str) -> list[str]:
        value = self.data.get(key)
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            return []
        return [v.strip()[:200] for v in value if isinstance(v, str) and v.strip()]

    @property
    def license(self) -> str | None:
        return self.text("license")

    @property
    def pipeline_tag(self) -> str | None:
        tasks = self.strings("tasks") or self.strings("task_categories")
        return self.text("pipeline_tag") or (tasks[0] if tasks else None)

    @property
    def library_name(self) -> str | None:
        return self.text("library_name")

    @property
    def base_models(self) -> list[str]:
        return [b for b in self.strings("base_model") if b.count("/") == 1]

    @property
    def base_model_relation(self) -> str | None:
        rel = self.text("base_model_relation")
        return rel if rel in RELATIONS else None

    @property
    def display_name(self) -> str:
        for key in ("chinese_name", "display_name", "pretty_name"):
            value = self.text(key)
            if value:
                return value
        return ""

    @property
    def description(self) -> str:
        """The first paragraph of prose in the card body (headings, badges and code skipped)."""
        in_code = False
        para: list[str] = []
        for line in self.body.splitlines():
            stripped = line.strip()
            if stripped.startswith("```"):
                in_code = not in_code
                continue
            if in_code or stripped.startswith(("#", "<", "![", "[!", "|", "---")):
                if para:
                    break
                continue
            if not stripped:
                if para:
                    break
                continue
            para.append(stripped)
        return " ".join(para)[:500]

    def tags(self) -> set[str]:
        """The tags a listing filter matches: card tags, library, task, license, languages, datasets, bases."""
        tags = set(self.strings("tags"))
        for key in ("library_name", "pipeline_tag"):
            if self.text(key):
                tags.add(self.text(key) or "")
        tags.update(self.strings("tasks"))
        tags.update(f"task_categories:{t}" for t in self.strings("task_categories"))
        if self.license:
            tags.add(f"license:{self.license.lower()}")
        for lang in self.strings("language"):
            tags.add(lang)
            tags.add(f"language:{lang}")
        tags.update(f"dataset:{d}" for d in self.strings("datasets"))
        rel = self.base_model_relation
        for base in self.base_models:
            tags.add(f"base_model:{base}")
            if rel:
                tags.add(f"base_model:{rel}:{base}")
        return {t for t in tags if t}


def parse_card(text: str | bytes | None) -> Card:
    if text is None:
        return Card()
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = text.replace("\r\n", "\n")
    match = _FRONT.match(text)
    if not match:
        return Card(body=text)
    body = text[match.end() :].lstrip("\r\n")
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        return Card(body=body, error=f"Invalid YAML in the card metadata: {exc}")
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return Card(body=body, error="The card metadata must be a YAML mapping (key: value).")
    card = Card(data=_jsonable(data), body=body)
    card.warnings = _check_types(card.data)
    return card


def _jsonable(value: Any) -> Any:
    """YAML can produce dates and other types JSON cannot hold; turn them into strings."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


_STRING_OR_LIST = ("license", "language", "tags", "datasets", "base_model", "tasks", "task_categories", "metrics")


def _check_types(data: dict[str, Any]) -> list[str]:
    warnings = []
    for key in _STRING_OR_LIST:
        value = data.get(key)
        if value is None:
            continue
        ok = isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        if not ok:
            warnings.append(f"'{key}' should be a string or a list of strings.")
    rel = data.get("base_model_relation")
    if rel is not None and rel not in RELATIONS:
        warnings.append(f"'base_model_relation' should be one of {', '.join(RELATIONS)}.")
    for key in ("pipeline_tag", "library_name"):
        if key in data and not isinstance(data[key], str):
            warnings.append(f"'{key}' should be a string.")
    return warnings
