"""Domain exceptions, shared by every wire protocol.

Each protocol package has one mapper that turns these into its own error shape
(for the Hugging Face routes: a status code, ``X-Error-Code`` /
``X-Error-Message`` headers and a JSON ``{"error": ...}`` body).

The tree::

    DaziError (400)
    ├── BadRequest (400)
    │   ├── InvalidName
    │   └── InvalidPath
    ├── Unauthorized (401)            bad or revoked credentials
    ├── Forbidden (403)               authenticated, not allowed
    ├── NotFound (404)
    │   ├── RepoNotFound              X-Error-Code: RepoNotFound
    │   ├── RevisionNotFound          X-Error-Code: RevisionNotFound
    │   └── EntryNotFound             X-Error-Code: EntryNotFound
    ├── Conflict (409)                already exists, concurrent update
    ├── PreconditionFailed (412)      stale parentCommit
    ├── PayloadTooLarge (413)
    └── RangeNotSatisfiable (416)
"""

from __future__ import annotations


class DaziError(Exception):
    status_code: int = 400
    error_code: str | None = None

    def __init__(self, message: str, *, headers: dict[str, str] | None = None, extra: dict[str, object] | None = None):
        super().__init__(message)
        self.message = message
        self.headers = headers or {}
        self.extra = extra or {}


class BadRequest(DaziError):
    status_code = 400


class InvalidName(BadRequest):
    pass


class InvalidPath(BadRequest):
    pass


class Unauthorized(DaziError):
    status_code = 401


class Forbidden(DaziError):
    status_code = 403


class NotFound(DaziError):
    status_code = 404


class RepoNotFound(NotFound):
    error_code = "RepoNotFound"


class RevisionNotFound(NotFound):
    error_code = "RevisionNotFound"


class EntryNotFound(NotFound):
    error_code = "EntryNotFound"


class Conflict(DaziError):
    status_code = 409


class PreconditionFailed(DaziError):
    status_code = 412


class PayloadTooLarge(DaziError):
    status_code = 413


class RangeNotSatisfiable(DaziError):
    status_code = 416
