"""The running batch's tensors: rows that join and leave get the tokens they get alone; unused columns go."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.network import missing_ml_extra

try:
    import torch
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    missing_ml_extra(exc, "torch")

from dazi.inference.batch import Batch
from dazi.inference.engines import EngineOptions
from dazi.inference.textgen import TextStream, TransformersGenerator

pytestmark = [pytest.mark.ml]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tests.support.tiny_model import make_tiny_llama

    folder: Path = make_tiny_llama(tmp_path_factory.mktemp("tiny"))
    generator = TransformersGenerator.load(folder, EngineOptions())
    yield generator
    generator.close()


def alone(engine: Any, prompt: list[int], n: int) -> list[int]:
    ids = torch.tensor([prompt])
    with torch.inference_mode():
        out = engine.model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, min_new_tokens=n,
                                    do_sample=False)
    return [int(t) for t in out[0, len(prompt):]]


def test_join_leave_and_trim(engine: Any) -> None:
    long_prompt = engine.encode("the model hub stores tiny model number 7 with a card and weights")
    short_prompt = engine.encode("a card")
    with torch.inference_mode():
        batch = Batch.prefill(engine._forward, engine._new_cache, [long_prompt], engine.pad_id)
        got: list[list[int]] = [[]]
        for step in range(12):
            tokens = batch.logits.argmax(dim=-1)
            for row, token in zip(got, tokens.tolist(), strict=True):
                row.append(token)
            if step == 5:  # the long row leaves; the short one goes on alone, in a narrower batch
                width = batch.mask.shape[1]
                tokens = batch.select([1], tokens)
                got_long, got = got, [got[1]]
                assert batch.mask.shape[1] < width and batch.mask.shape[1] == len(short_prompt) + 2
            batch.step(tokens)
            if step == 2:  # a short request joins the running batch
                fresh = Batch.prefill(engine._forward, engine._new_cache, [short_prompt], engine.pad_id)
                assert batch.absorb(fresh) and batch.size == 2
                got.append([])
    assert got_long[0] == alone(engine, long_prompt, 6)
    assert got[0] == alone(engine, short_prompt, 9)


def test_text_stream_holds_back_what_a_stop_string_could_start() -> None:
    pieces = ["Hel", "lo, wo", "rld", "! STO", "P here"]
    stream = TextStream(lambda ids: "".join(pieces[i] for i in ids), stop=("STOP",))
    out = []
    for i in range(len(pieces)):
        stream.push(i)
        out.append(stream.take())
        if stream.stopped:
            break
    assert "".join(out) + stream.take(final=True) == "Hello, world! "
    assert all("S" not in chunk for chunk in out[:3])


def test_text_stream_never_sends_half_a_character(engine: Any) -> None:
    """Byte-level tokens split multi-byte characters: every delta is whole characters (no U+FFFD unless the
    text itself has one there), and the deltas add up to the whole decoded text, stop strings included."""
    texts = ["the model €ß中文 hub", "日本語 tiny 😀🎉 model", "é number 7 中"]
    for text in texts:
        ids = engine.tokenizer(text, add_special_tokens=False).input_ids
        assert len(ids) > len(text.encode()) // 3  # characters really are split over several tokens
        for end in (len(ids), len(ids) - 1):  # the last: an answer cut off inside a character
            full = engine._decode(ids[:end])
            for stop in ((), ("中文",), ("🎉",)):
                stream = TextStream(engine._decode, stop)
                deltas = []
                for token in ids[:end]:
                    stream.push(token)
                    deltas.append(stream.take())
                    if stream.stopped:
                        break
                deltas.append(stream.take(final=True))
                expected = full[: full.index(stop[0])] if stop and stop[0] in full else full
                assert "".join(deltas) == expected
                assert all("\ufffd" not in d for d in deltas[:-1])
                assert "\ufffd" not in deltas[-1] or "\ufffd" in full
