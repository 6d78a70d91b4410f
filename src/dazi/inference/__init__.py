"""Model as a Service: the OpenAI-compatible API at ``/v1`` over models hosted in this hub.

- ``catalog.py``: which model a request names (``owner/name[@revision]``) and which engine can run it.
- ``snapshots.py``: a revision's files materialized from the hub's own storage into a cache folder.
- ``engines.py``: the engine interface; ``textgen.py`` (transformers, batched decode loop) and
  ``embeddings.py`` (sentence-transformers) implement it on CPU.
- ``pool.py``: loaded engines in an LRU bounded by memory.
- ``services.py``: ``InferenceService`` (resolve, lease, check, start); ``jobs.py``: the ``model.prepare`` job.
- ``checks.py``: a request checked against a loaded engine, and started; ``answers.py``: a running generation
  as an OpenAI answer or event stream. Both are shared with deployment replicas (``dazi.deployments``).
- ``schemas.py`` / ``wire.py`` / ``routes.py`` / ``errors.py``: the OpenAI protocol (requests, answers,
  routes, the error mapper). A ``model`` without ``/`` names a deployment: the call is proxied to one of its
  replicas (``dazi.deployments.proxy``).

Nothing heavy is imported until a model is loaded: torch and transformers load with the first engine.
"""
