""""Use this model / dataset": copy-paste code for every client the hub speaks, pointing at this hub."""

from __future__ import annotations

from dataclasses import dataclass

from dazi.web.i18n import marker as N_


@dataclass(frozen=True)
class Snippet:
    key: str
    title: str  # shown through gettext
    language: str  # "python" | "bash"
    code: str
    note: str = ""  # shown through gettext


def for_repo(base: str, repo_type: str, repo_id: str, pipeline_tag: str | None, library: str | None) -> list[Snippet]:
    if repo_type == "dataset":
        return _dataset(base, repo_id)
    items = [_hf_hub(base, "model", repo_id)]
    if library in (None, "transformers"):
        items.append(_transformers(base, repo_id, pipeline_tag))
    items += [_modelscope(base, "model", repo_id), _git(base, "", repo_id), _cli(base, "model", repo_id)]
    return items


def _dataset(base: str, repo_id: str) -> list[Snippet]:
    datasets = (
        "import os\n"
        f'os.environ["HF_ENDPOINT"] = "{base}"  # before importing datasets\n'
        "from datasets import load_dataset\n\n"
        f'ds = load_dataset("{repo_id}")'
    )
    return [
        Snippet("datasets", "datasets", "python", datasets),
        _hf_hub(base, "dataset", repo_id),
        _modelscope(base, "dataset", repo_id),
        _git(base, "datasets/", repo_id),
        _cli(base, "dataset", repo_id),
    ]


def _hf_hub(base: str, repo_type: str, repo_id: str) -> Snippet:
    kind = ', repo_type="dataset"' if repo_type == "dataset" else ""
    code = (
        "from huggingface_hub import snapshot_download\n\n"
        f'path = snapshot_download("{repo_id}"{kind}, endpoint="{base}")'
    )
    return Snippet("huggingface_hub", "huggingface_hub", "python", code, N_("Private repos: add token=\"…\"."))


def _transformers(base: str, repo_id: str, pipeline_tag: str | None) -> Snippet:
    head = f'import os\nos.environ["HF_ENDPOINT"] = "{base}"  # before importing transformers\n'
    if pipeline_tag:
        body = f'from transformers import pipeline\n\npipe = pipeline("{pipeline_tag}", model="{repo_id}")'
    else:
        body = (
            "from transformers import AutoModel, AutoTokenizer\n\n"
            f'tokenizer = AutoTokenizer.from_pretrained("{repo_id}")\n'
            f'model = AutoModel.from_pretrained("{repo_id}")'
        )
    return Snippet("transformers", "transformers", "python", head + body)


def _modelscope(base: str, repo_type: str, repo_id: str) -> Snippet:
    call = "dataset_snapshot_download" if repo_type == "dataset" else "snapshot_download"
    code = (
        "import os\n"
        f'os.environ["MODELSCOPE_ENDPOINT"] = "{base}"  # before importing modelscope\n'
        f"from modelscope import {call}\n\n"
        f'path = {call}("{repo_id}")'
    )
    return Snippet("modelscope", "modelscope", "python", code)


def _git(base: str, prefix: str, repo_id: str) -> Snippet:
    code = f"git lfs install\ngit clone {base}/{prefix}{repo_id}"
    return Snippet("git", "git", "bash", code, N_("Large files come through git-lfs."))


def _cli(base: str, repo_type: str, repo_id: str) -> Snippet:
    kind = " --repo-type dataset" if repo_type == "dataset" else ""
    code = f"export HF_ENDPOINT={base}\nhf download {repo_id}{kind}"
    return Snippet("cli", N_("Command line"), "bash", code)
