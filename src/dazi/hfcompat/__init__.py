"""The Hugging Face Hub protocol at the root URL (``HF_ENDPOINT=http://host:port``).

Routes are thin: they parse the wire format, call the domain services, and
shape the answer the way ``huggingface_hub`` and ``transformers`` expect
(``docs`` of the protocol: ``../shared/docs/hf-protocol.md``).
"""
