"""Stock transformers against the hub on loopback: push_to_hub, from_pretrained, privacy, revisions, env vars.

Everything is made in-process (tests/support/tiny_model.py); the only server any client may reach is the hub
under test, which the ``loopback_only`` fixture enforces by refusing DNS look-ups of any other host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.network import loopback_lookups, missing_ml_extra

try:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    missing_ml_extra(exc, "torch, transformers")

from huggingface_hub import HfApi
from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

from tests.support.tiny_model import make_tiny_llama, make_tiny_model, make_tiny_tokenizer

pytestmark = [pytest.mark.contract, pytest.mark.ml]

PROMPT = "the model hub stores"


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Nothing may go to huggingface.co."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    with loopback_lookups(monkeypatch) as attempts:
        yield attempts


def greedy(model: Any, tokenizer: Any, n: int = 20) -> list[int]:
    ids = tokenizer(PROMPT, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=n, min_new_tokens=n, do_sample=False)
    return [int(t) for t in out[0]]


def assert_same_weights(expected: Any, actual: Any) -> None:
    want, got = expected.state_dict(), actual.state_dict()
    assert sorted(got) == sorted(want)
    for name, tensor in want.items():
        assert got[name].dtype == tensor.dtype, name
        assert torch.equal(got[name], tensor), f"weights differ: {name}"


def chain(exc: BaseException | None) -> list[BaseException]:
    """The exception and its causes: transformers wraps huggingface_hub's errors in OSError."""
    seen: list[BaseException] = []
    while exc is not None and exc not in seen:
        seen.append(exc)
        exc = exc.__cause__ or exc.__context__
    return seen


def assert_not_found(excinfo: pytest.ExceptionInfo[BaseException], kind: type[BaseException]) -> None:
    causes = chain(excinfo.value)
    assert any(isinstance(e, kind) for e in causes), f"expected {kind.__name__} in {causes!r}"


def load(repo_id: str, cache: Path, token: str | bool | None, revision: str | None = None) -> tuple[Any, Any, Any]:
    kwargs: dict[str, Any] = {"token": token, "cache_dir": cache}
    if revision is not None:
        kwargs["revision"] = revision
    config = AutoConfig.from_pretrained(repo_id, **kwargs)
    tokenizer = AutoTokenizer.from_pretrained(repo_id, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(repo_id, **kwargs)
    model.eval()
    return config, tokenizer, model


def test_push_to_hub_then_from_pretrained(hub_server, alice, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tokenizer = make_tiny_tokenizer()
    model = make_tiny_model(tokenizer)
    repo_id = f"{alice.name}/tiny-llama"

    model.push_to_hub(repo_id, token=alice.write_token, commit_message="push the model")
    tokenizer.push_to_hub(repo_id, token=alice.write_token, commit_message="push the tokenizer")

    api = HfApi(endpoint=hub_server.url, token=alice.read_token)
    files = set(api.list_repo_files(repo_id))
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
            "tokenizer_config.json"} <= files
    titles = [c.title for c in api.list_repo_commits(repo_id)]
    assert titles[:2] == ["push the tokenizer", "push the model"]
    sha = api.model_info(repo_id).sha

    cache = tmp_path / "cache"
    config, loaded_tok, loaded = load(repo_id, cache, alice.read_token)
    assert config.model_type == "llama"
    assert (config.hidden_size, config.num_hidden_layers, config.vocab_size) == (128, 4, len(tokenizer))
    assert config.tie_word_embeddings is True
    assert loaded_tok.get_vocab() == tokenizer.get_vocab()
    assert loaded_tok(PROMPT).input_ids == tokenizer(PROMPT).input_ids
    assert (loaded_tok.bos_token, loaded_tok.eos_token, loaded_tok.pad_token) == ("<s>", "</s>", "<pad>")
    chat = [{"role": "user", "content": "hello"}]
    assert loaded_tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) == \
        tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    assert_same_weights(model, loaded)
    assert greedy(loaded, loaded_tok) == greedy(model, tokenizer)
    # The standard cache layout, pinned at the commit the hub reported.
    snapshot = cache / f"models--{alice.name}--tiny-llama" / "snapshots" / sha
    assert (snapshot / "model.safetensors").is_file()


def test_private_model_needs_the_owners_token(hub_server, alice, bob, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"{alice.name}/private-llama"
    folder = make_tiny_llama(tmp_path / "model")
    api = HfApi(endpoint=hub_server.url, token=alice.write_token)
    api.create_repo(repo_id, private=True)
    api.upload_folder(folder_path=folder, repo_id=repo_id, commit_message="private weights")

    _config, tokenizer, model = load(repo_id, tmp_path / "owner", alice.read_token)
    original = AutoModelForCausalLM.from_pretrained(folder)
    assert_same_weights(original, model)
    assert tokenizer(PROMPT).input_ids

    for i, token in enumerate((bob.write_token, bob.read_token, False)):
        cache = tmp_path / f"other-{i}"
        for auto in (AutoConfig, AutoModelForCausalLM, AutoTokenizer):
            with pytest.raises((OSError, RepositoryNotFoundError)) as err:
                auto.from_pretrained(repo_id, token=token, cache_dir=cache)
            assert_not_found(err, RepositoryNotFoundError)  # not a network error, not a 403 leak
        # Nothing of the private repo may have landed in the other user's cache.
        assert not list(cache.rglob("model.safetensors"))


def test_from_pretrained_at_a_revision(hub_server, alice, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    repo_id = f"{alice.name}/versioned-llama"
    api = HfApi(endpoint=hub_server.url, token=alice.write_token)
    api.create_repo(repo_id)
    v1_dir = make_tiny_llama(tmp_path / "v1")
    v1_commit = api.upload_folder(folder_path=v1_dir, repo_id=repo_id, commit_message="v1").oid
    api.create_tag(repo_id, tag="v1", tag_message="first release")

    v1 = AutoModelForCausalLM.from_pretrained(v1_dir)
    v2 = AutoModelForCausalLM.from_pretrained(v1_dir)
    with torch.no_grad():
        for param in v2.parameters():
            param.mul_(1.5)
    v2_dir = tmp_path / "v2"
    v2.save_pretrained(v2_dir)
    v2_commit = api.upload_folder(folder_path=v2_dir, repo_id=repo_id, commit_message="v2").oid
    assert v2_commit != v1_commit
    assert "v1" in [t.name for t in api.list_repo_refs(repo_id).tags]

    token = alice.read_token
    _c, _t, at_tag = load(repo_id, tmp_path / "tag", token, revision="v1")
    assert_same_weights(v1, at_tag)
    _c, _t, at_commit = load(repo_id, tmp_path / "commit", token, revision=v1_commit)
    assert_same_weights(v1, at_commit)
    _c, _t, at_main = load(repo_id, tmp_path / "main", token)
    assert_same_weights(v2, at_main)
    _c, _t, at_main = load(repo_id, tmp_path / "main-explicit", token, revision="main")
    assert_same_weights(v2, at_main)
    snapshots = tmp_path / "tag" / f"models--{alice.name}--versioned-llama" / "snapshots"
    assert [p.name for p in snapshots.iterdir()] == [v1_commit]

    with pytest.raises(OSError) as err:
        AutoModelForCausalLM.from_pretrained(repo_id, token=token, cache_dir=tmp_path / "bad", revision="v9")
    assert_not_found(err, RevisionNotFoundError)


SUBPROCESS_SCRIPT = textwrap.dedent("""
    import json, os, socket, sys
    real = socket.getaddrinfo
    def guarded(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in ("127.0.0.1", "localhost", "::1"):
            raise OSError("network guard: refused " + name)
        return real(host, *args, **kwargs)
    socket.getaddrinfo = guarded

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    result = {}
    for key, repo_id, token in (("public", sys.argv[1], False), ("private", sys.argv[2], None)):
        tok = AutoTokenizer.from_pretrained(repo_id, token=token)
        model = AutoModelForCausalLM.from_pretrained(repo_id, token=token).eval()
        ids = tok(sys.argv[3], return_tensors="pt").input_ids
        with torch.no_grad():
            out = model.generate(ids, max_new_tokens=20, min_new_tokens=20, do_sample=False)
        result[key] = {
            "tokens": [int(t) for t in out[0]],
            "checksum": float(sum(p.double().sum() for p in model.state_dict().values())),
        }
    print("RESULT " + json.dumps(result))
""")


def test_fresh_process_uses_the_environment(hub_server, alice, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = make_tiny_llama(tmp_path / "model")
    api = HfApi(endpoint=hub_server.url, token=alice.write_token)
    public, private = f"{alice.name}/env-public", f"{alice.name}/env-private"
    api.create_repo(public)
    api.create_repo(private, private=True)
    shas = {}
    for repo_id in (public, private):
        shas[repo_id] = api.upload_folder(folder_path=folder, repo_id=repo_id, commit_message="weights").oid

    cache = tmp_path / "hub-cache"
    env = dict(os.environ)
    for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_TOKEN_PATH"):
        env.pop(key, None)
    env.update({
        "HF_ENDPOINT": hub_server.url,
        "HF_TOKEN": alice.read_token,
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_HUB_CACHE": str(cache),
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    })
    proc = subprocess.run([sys.executable, "-c", SUBPROCESS_SCRIPT, public, private, PROMPT], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"subprocess failed:\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-6000:]}"
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    result = json.loads(line[len("RESULT "):])

    original = AutoModelForCausalLM.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    want_tokens = greedy(original, tokenizer)
    want_checksum = float(sum(p.double().sum() for p in original.state_dict().values()))
    for key, repo_id in (("public", public), ("private", private)):
        assert result[key]["tokens"] == want_tokens
        assert result[key]["checksum"] == want_checksum
        ns, name = repo_id.split("/")
        snapshot = cache / f"models--{ns}--{name}" / "snapshots" / shas[repo_id]
        assert (snapshot / "model.safetensors").is_file(), f"missing {snapshot}"

