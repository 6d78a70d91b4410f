"""A tiny random-weight Llama with an in-process byte-level BPE tokenizer (no network, ~1 M parameters).

Follows docs/environment.md §4.2 of the shared notes: the tokenizer is trained on 40 short lines in memory,
the model is a 4-layer ``LlamaConfig`` (hidden 128) with tied embeddings and weights fixed by
``torch.manual_seed(0)``. The tokenizer also carries a small chat template so chat-related features can
use the same fixture.
"""

from __future__ import annotations

from pathlib import Path

TRAINING_TEXTS = [f"the model hub stores tiny model number {i} with a card and weights" for i in range(40)]

CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{{ message['role'] }}: {{ message['content'] }}{{ eos_token }}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}assistant: {% endif %}"
)


def make_tiny_tokenizer():  # type: ignore[no-untyped-def]
    """A ``PreTrainedTokenizerFast`` over a byte-level BPE trained in-process on ``TRAINING_TEXTS``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=1024, special_tokens=["<s>", "</s>", "<pad>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(TRAINING_TEXTS, trainer)
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",  # noqa: S106
                                     pad_token="<pad>")  # noqa: S106
    hf_tok.chat_template = CHAT_TEMPLATE
    return hf_tok


def make_tiny_model(tokenizer):  # type: ignore[no-untyped-def]
    """The tiny random-weight ``LlamaForCausalLM`` matching ``tokenizer`` (deterministic: seed 0)."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=len(tokenizer), hidden_size=128, intermediate_size=512, num_hidden_layers=4,
                      num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=True,
                      bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                      pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg)
    model.eval()
    return model


def make_tiny_llama(directory: str | Path) -> Path:
    """Write a complete HF-format model folder (config, generation config, safetensors, tokenizer) to ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    tokenizer = make_tiny_tokenizer()
    model = make_tiny_model(tokenizer)
    model.save_pretrained(out)  # config.json, generation_config.json, model.safetensors
    tokenizer.save_pretrained(out)  # tokenizer.json, tokenizer_config.json (+ chat template)
    return out
