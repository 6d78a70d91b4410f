"""Quotas: per-user request and token limits for Model as a Service, with honest headers.

- ``services.py``: ``QuotaService`` (the ``limits`` library; memory or Redis storage), the
  ``RateLimit`` / ``RateLimit-Policy`` headers, ``RateLimited`` (429 with ``Retry-After``).
- ``routes.py``: ``GET /api/quota``.
"""
