"""Model as a Service: the OpenAI-compatible API at ``/v1`` over models hosted in this hub.

- ``catalog.py``: which model a request names (``owner/name[@revision]``) and which engine can run it.
- ``snapshots.py``: a revision's files materialized from the hub's own storage into a cache folder.
- ``engines.py``: the engine interface; ``textgen.py`` (transformers, batched decode loop) and
  ``embeddings.py`` (sentence-transformers) implement it on CPU.
- ``pool.py``: loaded engines in an LRU bounded by memory.
- ``services.py``: ``InferenceService`` (resolve, lease, check, start); ``jobs.py``: the ``model.prepare`` job.
- ``schemas.py`` / ``wire.py`` / ``routes.py`` / ``errors.py``: the OpenAI protocol (requests, answers,
  routes, the error mapper).

Nothing heavy is imported until a model is loaded: torch and transformers load with the first engine.
"""
