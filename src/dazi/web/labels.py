"""Display names of common tasks (pipeline tags) and lineage relations, translated through the catalogs."""

from __future__ import annotations

from dazi.web.i18n import marker as N_

TASKS = {
    "text-generation": N_("Text Generation"),
    "text-classification": N_("Text Classification"),
    "token-classification": N_("Token Classification"),
    "question-answering": N_("Question Answering"),
    "summarization": N_("Summarization"),
    "translation": N_("Translation"),
    "fill-mask": N_("Fill-Mask"),
    "sentence-similarity": N_("Sentence Similarity"),
    "feature-extraction": N_("Feature Extraction"),
    "text-to-image": N_("Text-to-Image"),
    "image-to-text": N_("Image-to-Text"),
    "image-classification": N_("Image Classification"),
    "object-detection": N_("Object Detection"),
    "image-segmentation": N_("Image Segmentation"),
    "automatic-speech-recognition": N_("Speech Recognition"),
    "text-to-speech": N_("Text-to-Speech"),
    "audio-classification": N_("Audio Classification"),
    "zero-shot-classification": N_("Zero-Shot Classification"),
    "conversational": N_("Conversational"),
    "image-text-to-text": N_("Image-Text-to-Text"),
    "visual-question-answering": N_("Visual Question Answering"),
    "text2text-generation": N_("Text2Text Generation"),
    "reinforcement-learning": N_("Reinforcement Learning"),
    "tabular-classification": N_("Tabular Classification"),
    "text-retrieval": N_("Text Retrieval"),
}

RELATIONS = {
    "adapter": N_("Adapters"),
    "merge": N_("Merges"),
    "quantized": N_("Quantizations"),
    "finetune": N_("Finetunes"),
}
