"""Jobs: durable rows for long-running work, run by an executor (local worker processes or Ray tasks).

- ``models.py``: the ``jobs`` table.
- ``registry.py``: the job kinds registered in code (nothing else can be run).
- ``services.py``: submit, read, list, cancel, claim, finish and recover jobs (functions over a Session).
- ``context.py`` / ``worker.py``: what runs inside a worker process or Ray task.
- ``executors.py``: the ``Executor`` interface, ``LocalExecutor`` and ``RayExecutor``.
- ``runner.py``: ``JobService``, the supervising loop started in the app's lifespan.
- ``routes.py``: ``/api/jobs``.
"""
