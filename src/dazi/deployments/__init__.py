"""Deployments ("one-click deploy"): named, persistent endpoints for a model revision with N replicas.

- ``models.py``: the ``deployments`` rows (what should run, counters, the supervisor's lease) and the
  ``deployment_replicas`` rows (what runs now, written by the supervisor, read by every API worker to route).
- ``services.py``: create, list, read, scale, stop, start, delete; who may see, manage and call.
- ``routes.py``: ``/api/deployments``.
- ``backends.py``: the replica backend interface; ``local.py`` (worker processes) and ``ray_serve.py``
  (Ray Serve) implement it. ``replica.py``: the app every replica serves.
- ``supervisor.py``: the thread that drives a backend from the rows; ``proxy.py``: ``/v1`` calls with
  ``model=<deployment name>`` forwarded to a ready replica.
"""
