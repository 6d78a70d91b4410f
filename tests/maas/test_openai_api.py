"""The stock ``openai`` client against ``/v1``: answers match transformers run directly on the same weights."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest

from tests.maas.conftest import PushedModel, client_for
from tests.support.network import missing_ml_extra

try:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    missing_ml_extra(exc, "torch, transformers")

pytestmark = [pytest.mark.contract, pytest.mark.ml]

MESSAGES = [
    {"role": "system", "content": "You are a tiny model."},
    {"role": "user", "content": "the model hub stores tiny model number 7"},
]


def chat_prompt_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return list(tokenizer(text, add_special_tokens=False).input_ids)


def greedy(model: Any, tokenizer: Any, prompt_ids: list[int], n: int) -> list[int]:
    """What transformers' own generate makes: up to ``n`` tokens, ending early at (and with) an EOS."""
    ids = torch.tensor([prompt_ids])
    with torch.no_grad():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, do_sample=False)
    new = [int(t) for t in out[0, len(prompt_ids):]]
    if tokenizer.eos_token_id in new:
        new = new[: new.index(tokenizer.eos_token_id) + 1]
    return new


def test_chat_matches_transformers_generate(hub_server: Any, tiny_llama: PushedModel, local_tiny: Any) -> None:
    model, tokenizer = local_tiny
    client = client_for(hub_server.url, tiny_llama.owner.read_token)
    answer = client.chat.completions.create(model=tiny_llama.repo_id, messages=MESSAGES, max_tokens=12, temperature=0)
    prompt = chat_prompt_ids(tokenizer, MESSAGES)
    expected = greedy(model, tokenizer, prompt, 12)
    assert answer.object == "chat.completion"
    assert answer.model == tiny_llama.repo_id
    assert answer.choices[0].message.role == "assistant"
    assert answer.choices[0].message.content == tokenizer.decode(expected, skip_special_tokens=True)
    assert answer.usage.prompt_tokens == len(prompt)
    assert answer.usage.completion_tokens == len(expected)
    assert answer.usage.total_tokens == len(prompt) + len(expected)
    ended_by_eos = expected[-1] == tokenizer.eos_token_id
    assert answer.choices[0].finish_reason == ("stop" if ended_by_eos else "length")
    if not ended_by_eos:
        assert answer.usage.completion_tokens == 12  # max_tokens respected


def test_chat_stream_is_the_same_answer_in_pieces(hub_server: Any, tiny_llama: PushedModel) -> None:
    client = client_for(hub_server.url, tiny_llama.owner.read_token)
    whole = client.chat.completions.create(model=tiny_llama.repo_id, messages=MESSAGES, max_tokens=20, temperature=0)
    chunks = list(client.chat.completions.create(model=tiny_llama.repo_id, messages=MESSAGES, max_tokens=20,
                                                 temperature=0, stream=True, stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == [whole.choices[0].finish_reason]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.model_dump() == {**whole.usage.model_dump(), **chunks[-1].usage.model_dump()}
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert chunks[-1].usage.prompt_tokens == whole.usage.prompt_tokens
    assert len({c.id for c in chunks}) == 1 and all(c.object == "chat.completion.chunk" for c in chunks)


def test_stream_is_server_sent_events_ending_with_done(hub_server: Any, tiny_llama: PushedModel) -> None:
    body = {"model": tiny_llama.repo_id, "messages": MESSAGES, "max_tokens": 5, "stream": True}
    headers = {"Authorization": f"Bearer {tiny_llama.owner.read_token}"}
    with httpx.stream("POST", f"{hub_server.url}/v1/chat/completions", json=body, headers=headers, timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert "RateLimit" in r.headers and "RateLimit-Policy" in r.headers
        lines = [line for line in r.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    payloads = [json.loads(line[6:]) for line in lines[:-1]]
    assert payloads[-1]["choices"][0]["finish_reason"] in ("stop", "length")


def test_seed_makes_sampling_reproducible(hub_server: Any, tiny_llama: PushedModel) -> None:
    client = client_for(hub_server.url, tiny_llama.owner.read_token)

    def sample(seed: int) -> str:
        answer = client.chat.completions.create(model=tiny_llama.repo_id, messages=MESSAGES, max_tokens=24,
                                                temperature=1.0, top_p=0.95, seed=seed)
        return answer.choices[0].message.content or ""

    first = sample(42)
    assert sample(42) == first
    others = {sample(s) for s in (43, 44, 45)}
    assert others != {first}


def test_stop_sequence_ends_the_answer_before_it(hub_server: Any, tiny_llama: PushedModel) -> None:
    client = client_for(hub_server.url, tiny_llama.owner.read_token)
    free = client.chat.completions.create(model=tiny_llama.repo_id, messages=MESSAGES, max_tokens=30, temperature=0)
    text = free.choices[0].message.content or ""
    assert len(text) >= 8, text
    stop = text[len(text) // 2 : len(text) // 2 + 3]
    stopped = client.chat.completions.create(model=tiny_llama.repo_id, messages=MESSAGES, max_tokens=30,
                                             temperature=0, stop=[stop, "never-appears"])
    assert stopped.choices[0].message.content == text[: text.index(stop)]
    assert stopped.choices[0].finish_reason == "stop"
    assert stopped.usage.completion_tokens < free.usage.completion_tokens
    streamed = client.chat.completions.create(model=tiny_llama.repo_id, messages=MESSAGES, max_tokens=30,
                                              temperature=0, stop=stop, stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == text[: text.index(stop)]


def test_completions_match_transformers(hub_server: Any, tiny_llama: PushedModel, local_tiny: Any) -> None:
    model, tokenizer = local_tiny
    client = client_for(hub_server.url, tiny_llama.owner.read_token)
    prompt = "the model hub stores"
    answer = client.completions.create(model=tiny_llama.repo_id, prompt=prompt, max_tokens=10, temperature=0)
    ids = list(tokenizer(prompt).input_ids)
    expected = greedy(model, tokenizer, ids, 10)
    assert answer.object == "text_completion"
    assert answer.choices[0].text == tokenizer.decode(expected, skip_special_tokens=True)
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (len(ids), len(expected))
    pieces = list(client.completions.create(model=tiny_llama.repo_id, prompt=prompt, max_tokens=10, temperature=0,
                                            stream=True))
    assert "".join(p.choices[0].text for p in pieces) == answer.choices[0].text
    from_ids = client.completions.create(model=tiny_llama.repo_id, prompt=ids, max_tokens=10, temperature=0)
    assert from_ids.choices[0].text == answer.choices[0].text


def test_requests_join_a_running_batch_with_unchanged_answers(hub_server: Any, tiny_llama: PushedModel) -> None:
    """Requests that arrive while a long one generates join its batch (prompts of other lengths, padded on
    the left into the running KV cache) and get exactly the answers they get alone."""
    client = client_for(hub_server.url, tiny_llama.owner.read_token)
    prompts = ["the", "the model hub", "tiny model number 3 with a card and weights", "stores", "a card and"]

    def complete(prompt: str) -> str:
        answer = client.completions.create(model=tiny_llama.repo_id, prompt=prompt, max_tokens=16, temperature=0)
        return answer.choices[0].text

    alone = [complete(p) for p in prompts]
    before = client.models.retrieve(tiny_llama.repo_id).model_extra["dazi"]["status"]
    together: dict[int, str] = {}
    threads = [threading.Thread(target=lambda i=i: together.__setitem__(i, complete(prompts[i])))
               for i in range(len(prompts))]
    hold = {"model": tiny_llama.repo_id, "prompt": "hold", "max_tokens": 1900, "temperature": 0, "stream": True,
            "logit_bias": {"1": -100}}
    headers = {"Authorization": f"Bearer {tiny_llama.owner.read_token}"}
    with httpx.stream("POST", f"{hub_server.url}/v1/completions", json=hold, headers=headers, timeout=60) as held:
        lines = held.iter_lines()
        assert next(lines).startswith("data: {")  # the long request is running
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        hold_text = [next(lines) for _ in range(3)]
        assert all('"finish_reason":null' in line for line in hold_text if line)  # still going
    assert [together[i] for i in range(len(prompts))] == alone
    after = client.models.retrieve(tiny_llama.repo_id).model_extra["dazi"]["status"]
    assert after["largest_batch"] >= 2
    assert after["row_steps"] - before["row_steps"] > after["steps"] - before["steps"]  # rows shared steps


def test_revision_in_the_model_name(hub_server: Any, tiny_llama: PushedModel) -> None:
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama.first_folder)
    first = AutoModelForCausalLM.from_pretrained(tiny_llama.first_folder).eval()
    client = client_for(hub_server.url, tiny_llama.owner.read_token)
    name = f"{tiny_llama.repo_id}@{tiny_llama.first_commit}"
    old = client.chat.completions.create(model=name, messages=MESSAGES, max_tokens=12, temperature=0)
    expected = greedy(first, tokenizer, chat_prompt_ids(tokenizer, MESSAGES), 12)
    assert old.model == name
    assert old.choices[0].message.content == tokenizer.decode(expected, skip_special_tokens=True)
    assert old.system_fingerprint == f"fp_{tiny_llama.first_commit[:12]}"
    new = client.chat.completions.create(model=tiny_llama.repo_id, messages=MESSAGES, max_tokens=12, temperature=0)
    assert new.choices[0].message.content != old.choices[0].message.content
    short = client.chat.completions.create(model=f"{tiny_llama.repo_id}@{tiny_llama.first_commit[:10]}",
                                           messages=MESSAGES, max_tokens=12, temperature=0)
    assert short.choices[0].message.content == old.choices[0].message.content


def test_embeddings_of_the_real_minilm(hub_server: Any, minilm: PushedModel) -> None:
    import numpy as np
    from sentence_transformers import SentenceTransformer

    client = client_for(hub_server.url, minilm.owner.read_token)
    words = ["cat", "kitten", "stock market"]
    answer = client.embeddings.create(model=minilm.repo_id, input=words)  # the client asks for base64
    vectors = np.array([d.embedding for d in answer.data], dtype=np.float32)
    assert vectors.shape == (3, 384)

    def cos(a: Any, b: Any) -> float:
        return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))

    assert cos(vectors[0], vectors[1]) > cos(vectors[0], vectors[2]) + 0.2
    local = SentenceTransformer(str(minilm.folder), device="cpu").encode(words)
    assert np.allclose(vectors, local, atol=1e-4)
    floats = client.embeddings.create(model=minilm.repo_id, input="cat", encoding_format="float")
    assert np.allclose(np.array(floats.data[0].embedding), local[0], atol=1e-4)
    tokenizer = AutoTokenizer.from_pretrained(minilm.folder)
    assert answer.usage.prompt_tokens == sum(len(tokenizer(w).input_ids) for w in words)
    assert answer.usage.total_tokens == answer.usage.prompt_tokens


def test_models_lists_what_the_caller_may_call(
    hub_server: Any, tiny_llama: PushedModel, minilm: PushedModel, bob: Any
) -> None:
    owner = client_for(hub_server.url, minilm.owner.read_token)
    ids = {m.id for m in owner.models.list()}
    assert {tiny_llama.repo_id, minilm.repo_id} <= ids
    others = {m.id for m in client_for(hub_server.url, bob.read_token).models.list()}
    assert tiny_llama.repo_id in others and minilm.repo_id not in others  # private
    found = owner.models.retrieve(minilm.repo_id)
    assert found.id == minilm.repo_id and found.owned_by == minilm.owner.name
    extra = found.model_extra["dazi"]
    assert extra["engine"] == "embedding" and extra["commit"] == minilm.first_commit
    chat = owner.models.retrieve(tiny_llama.repo_id).model_extra["dazi"]
    assert chat["engine"] == "text-generation" and chat["chat"] is True
