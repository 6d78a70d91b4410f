"""Realistic demo content for the web tests and screenshots, made through the stock ``huggingface_hub``.

Cards in Chinese and English, a safetensors file (stored in LFS), a base model with derivatives of
each relation, datasets, and a month of download counts.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from dataclasses import dataclass
from typing import Any

from huggingface_hub import HfApi


def safetensors_bytes(tensors: dict[str, tuple[str, list[int]]]) -> bytes:
    """A valid safetensors file of zeros: ``name -> (dtype, shape)``."""
    sizes = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I8": 1}
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        count = 1
        for dim in shape:
            count *= dim
        size = count * sizes[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + bytes(offset)


def card(meta: dict[str, Any], body: str) -> bytes:
    lines = ["---"]
    for key, value in meta.items():
        lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    lines += ["---", "", body]
    return "\n".join(lines).encode()


BASE_CARD_BODY = """# {name}

{zh_name} 是一个小型的中文文本分类模型，用于情感分析与客服工单分类。
A small bilingual text classifier for sentiment analysis and ticket routing.

## 使用方法 (Usage)

```python
from transformers import pipeline

pipe = pipeline("text-classification", model="{repo_id}")
print(pipe("这个产品非常好用！"))
```

## 训练数据

| 数据集 | 条数 | 语言 |
|---|---|---|
| 电商评论 | 120,000 | 中文 |
| Product reviews | 80,000 | English |

> 注意：本模型仅供研究使用。
"""


@dataclass
class Demo:
    owner: str
    base: str
    derived: dict[str, str]
    dataset: str


def write_model(api: HfApi, repo_id: str, meta: dict[str, Any], body: str, weights: bool = True) -> None:
    from huggingface_hub import CommitOperationAdd

    api.create_repo(repo_id, exist_ok=True)
    ops = [
        CommitOperationAdd("README.md", card(meta, body)),
        CommitOperationAdd("config.json", json.dumps({"architectures": ["BertForSequenceClassification"],
                                                      "model_type": "bert", "num_labels": 3}, indent=2).encode()),
        CommitOperationAdd("tokenizer_config.json", b'{"model_max_length": 512}\n'),
    ]
    if weights:
        tensors = {
            "embeddings.word_embeddings.weight": ("BF16", [2048, 64]),
            "encoder.layer.0.attention.self.query.weight": ("BF16", [64, 64]),
            "encoder.layer.0.attention.self.key.weight": ("BF16", [64, 64]),
            "classifier.weight": ("F32", [3, 64]),
            "classifier.bias": ("F32", [3]),
        }
        ops.append(CommitOperationAdd("model.safetensors", safetensors_bytes(tensors)))
    api.create_commit(repo_id, ops, commit_message="上传模型 / upload the model")


def seed(api: HfApi, owner: str, hub: Any = None, tag: str = "") -> Demo:
    """Create the demo repos under ``owner`` (``tag`` makes names unique) and return their ids."""
    base = f"{owner}/qingxu-bert{tag}"
    zh_name = "情绪小助手"
    meta = {"license": "apache-2.0", "pipeline_tag": "text-classification", "library_name": "transformers",
            "language": ["zh", "en"], "tags": ["sentiment", "chinese"], "chinese_name": zh_name,
            "datasets": [f"{owner}/dianshang-pinglun{tag}"]}
    write_model(api, base, meta, BASE_CARD_BODY.format(name=base.split("/")[1], zh_name=zh_name, repo_id=base))
    api.create_tag(base, tag="v1.0")
    api.create_commit(base, [_add("CHANGELOG.md", "# 更新记录\n\n- v1: 第一个版本\n- v2: 更好的分词\n")],
                      commit_message="添加更新记录")
    derived = {}
    for relation in ("finetune", "adapter", "quantized", "merge"):
        rid = f"{owner}/qingxu-bert-{relation}{tag}"
        extra = {"base_model": base, "base_model_relation": relation, "license": "apache-2.0",
                 "pipeline_tag": "text-classification", "language": ["zh"]}
        write_model(api, rid, extra, f"# {rid}\n\nA {relation} of [{base}](/{base}).\n", weights=False)
        derived[relation] = rid
    dataset = f"{owner}/dianshang-pinglun{tag}"
    api.create_repo(dataset, repo_type="dataset", exist_ok=True)
    dmeta = {"license": "cc-by-4.0", "task_categories": ["text-classification"], "language": ["zh"],
             "pretty_name": "电商评论数据集", "size_categories": ["100K<n<1M"]}
    api.create_commit(dataset, [
        _add("README.md", card(dmeta, "# 电商评论\n\n十二万条带情感标签的电商评论。120k labelled product reviews.\n")),
        _add("train.csv", "text,label\n很好用,positive\n太差了,negative\n还行吧,neutral\n"),
    ], repo_type="dataset", commit_message="add the data")
    if hub is not None:
        add_downloads(hub, base, [3, 5, 2, 8, 13, 9, 4, 7, 12, 18, 15, 9, 11, 21, 17, 14, 25, 19, 23, 30,
                                  26, 22, 35, 28, 31, 40, 33, 38, 45, 41])
        add_downloads(hub, derived["quantized"], [1, 0, 2, 3, 1, 4, 2, 5, 3, 6] * 3)
        add_downloads(hub, dataset, [2, 4, 1, 6, 3, 8, 5, 9, 7, 10] * 3, repo_type="dataset")
    return Demo(owner, base, derived, dataset)


def _add(path: str, text: str | bytes) -> Any:
    from huggingface_hub import CommitOperationAdd

    return CommitOperationAdd(path, text.encode() if isinstance(text, str) else text)


def add_downloads(hub: Any, repo_id: str, per_day: list[int], repo_type: str = "model") -> None:
    """Download counts for the last ``len(per_day)`` days (rows written directly: one write, not hundreds)."""
    from sqlalchemy import select

    from dazi.repos.models import DownloadDay, Repo

    today = dt.datetime.now(dt.UTC).date()
    with hub.db.write() as session:
        repo = session.execute(
            select(Repo).where(Repo.repo_id_lower == repo_id.lower(), Repo.type == repo_type)
        ).scalar_one()
        for back, count in enumerate(reversed(per_day)):
            if count:
                session.add(DownloadDay(repo_id=repo.id, day=today - dt.timedelta(days=back), count=count))
        repo.downloads_recent = sum(per_day)
        repo.downloads_total = sum(per_day) * 3


VARIETY = [
    ("model", "xiaoyu-chat-1.8b", {"pipeline_tag": "text-generation", "library_name": "transformers",
     "language": ["zh", "en"], "license": "apache-2.0", "chinese_name": "小雨对话模型", "tags": ["chat", "llm"]},
     "一个 18 亿参数的中英双语对话模型，支持多轮对话与工具调用。", [40, 80, 120, 260, 380, 410, 520]),
    ("model", "whisper-zh-small", {"pipeline_tag": "automatic-speech-recognition", "library_name": "transformers",
     "language": ["zh"], "license": "mit", "chinese_name": "中文语音识别（小）"},
     "在普通话和粤语语料上微调的语音识别模型。", [20, 25, 30, 28, 35, 41, 39]),
    ("model", "bge-zh-base", {"pipeline_tag": "sentence-similarity", "library_name": "sentence-transformers",
     "language": ["zh"], "license": "mit", "chinese_name": "中文向量模型", "tags": ["embeddings", "retrieval"]},
     "用于检索增强生成（RAG）的中文句向量模型。", [90, 110, 95, 130, 150, 170, 160]),
    ("model", "shanshui-diffusion", {"pipeline_tag": "text-to-image", "library_name": "diffusers",
     "license": "openrail", "chinese_name": "山水画生成", "language": ["zh", "en"]},
     "根据文字描述生成中国山水画风格的图像。", [10, 12, 30, 55, 60, 58, 75]),
    ("model", "vit-flowers", {"pipeline_tag": "image-classification", "library_name": "transformers",
     "license": "apache-2.0", "language": ["en"], "tags": ["vision"]},
     "A ViT fine-tuned on 102 flower species.", [3, 4, 2, 6, 5, 7, 8]),
    ("dataset", "tang-song-poetry", {"task_categories": ["text-generation"], "language": ["zh"],
     "license": "cc-by-4.0", "pretty_name": "唐诗宋词"},
     "五万首唐诗与宋词，带作者与朝代标注。", [30, 45, 60, 52, 70, 66, 81]),
    ("dataset", "mandarin-asr-corpus", {"task_categories": ["automatic-speech-recognition"], "language": ["zh"],
     "license": "cc-by-sa-4.0", "pretty_name": "普通话语音语料"},
     "一千小时带转写的普通话朗读语音。", [8, 9, 12, 10, 14, 13, 18]),
]


def seed_variety(api: HfApi, owner: str, hub: Any) -> None:
    """More repos of different tasks and libraries, so that lists and facets look like a real hub's."""
    for repo_type, name, meta, text, week in VARIETY:
        repo_id = f"{owner}/{name}"
        api.create_repo(repo_id, repo_type=repo_type, exist_ok=True)
        body = f"# {name}\n\n{text}\n"
        api.upload_file(path_or_fileobj=card(meta, body), path_in_repo="README.md", repo_id=repo_id,
                        repo_type=repo_type, commit_message="初始化卡片")
        add_downloads(hub, repo_id, week * 4, repo_type=repo_type)
