"""Driving the older huggingface_hub release (0.36, requests-based) from its own virtual environment.

The legacy client cannot be imported next to the current one, so each test runs a short script with
``.venv-hf036/bin/python`` in a subprocess. Every script gets a small prelude:

- ``P``: the ``params`` passed to :func:`run_legacy`, decoded from JSON;
- ``REQUESTS``: every HTTP exchange the client made, as ``{method, url, status, range}`` dicts
  (recorded with a response hook on the client's own ``requests`` sessions);
- ``emit(obj)``: prints ``obj`` as JSON on one line; a script's last line is its result;
- ``attempt(fn, *args, **kwargs)``: ``"ok"``, or ``"<ExceptionClass>:<HTTP status>"`` for what it raised.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
LEGACY_VENV = Path(os.environ.get("DAZI_LEGACY_VENV", ROOT / ".venv-hf036"))
LEGACY_PYTHON = LEGACY_VENV / "bin" / "python"
LEGACY_VERSION_PREFIX = "0.36."

PRELUDE = '''
import json, os, sys
P = json.loads(os.environ.get("DAZI_LEGACY_PARAMS") or "{}")
REQUESTS = []

def _record(response, *args, **kwargs):
    REQUESTS.append({"method": response.request.method, "url": response.request.url,
                     "status": response.status_code, "range": response.request.headers.get("Range")})

def _factory():
    from huggingface_hub.utils._http import _default_backend_factory
    session = _default_backend_factory()
    session.hooks["response"].append(_record)
    return session

from huggingface_hub import configure_http_backend
configure_http_backend(backend_factory=_factory)

def emit(obj):
    sys.stdout.write(json.dumps(obj, default=str) + "\\n")
    sys.stdout.flush()

def attempt(fn, *args, **kwargs):
    """``"ok"``, or ``"<ExceptionClass>:<HTTP status>"`` for what ``fn`` raised."""
    try:
        fn(*args, **kwargs)
        return "ok"
    except Exception as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return f"{type(exc).__name__}:{status}"
'''

# Only these are inherited from the test process; everything Hugging Face-related comes from ``env``.
_INHERITED = ("PATH", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


def legacy_available() -> bool:
    return LEGACY_PYTHON.is_file() and os.access(LEGACY_PYTHON, os.X_OK)


def require_legacy() -> None:
    """Skip (locally) or fail (in CI) when the legacy client's virtual environment is missing."""
    if legacy_available():
        return
    reason = (f"the legacy huggingface_hub venv is missing ({LEGACY_PYTHON}); "
              "create it with `make install-dev`")
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


def legacy_env(endpoint: str, token: str | None, home: Path) -> dict[str, str]:
    """The environment of a legacy script: the hub, a token, and a private home and cache under ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "HF_ENDPOINT": endpoint,
        "HOME": str(home),
        "HF_HOME": str(home / "hf"),
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_ETAG_TIMEOUT": "60",
        "HF_HUB_DOWNLOAD_TIMEOUT": "60",
    }
    if token:
        env["HF_TOKEN"] = token
    return env


def run_legacy(script: str, env: dict[str, str], *, params: dict[str, Any] | None = None,
               timeout: float = 300) -> str:
    """Run ``script`` with the legacy client; return its last line of output (its JSON result).

    A non-zero exit fails the test with the script's stderr.
    """
    require_legacy()
    full_env = {k: os.environ[k] for k in _INHERITED if k in os.environ}
    full_env.update(env)
    full_env["PYTHONDONTWRITEBYTECODE"] = "1"
    full_env["PYTHONUNBUFFERED"] = "1"
    full_env["DAZI_LEGACY_PARAMS"] = json.dumps(params or {})
    code = PRELUDE + "\n" + textwrap.dedent(script)
    try:
        proc = subprocess.run([str(LEGACY_PYTHON), "-c", code], env=full_env, capture_output=True, text=True,
                              timeout=timeout, cwd=env.get("HOME") or None)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"legacy script timed out after {timeout} s\n--- stdout ---\n{_text(exc.stdout)}\n"
                    f"--- stderr ---\n{_text(exc.stderr)}", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(f"legacy script exited with {proc.returncode}\n--- stderr ---\n{proc.stderr[-20000:]}\n"
                    f"--- stdout ---\n{proc.stdout[-4000:]}", pytrace=False)
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if not lines:
        pytest.fail(f"legacy script printed nothing\n--- stderr ---\n{proc.stderr[-20000:]}", pytrace=False)
    return lines[-1]


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode("utf-8", "replace")
    return output or ""


def run_legacy_json(script: str, env: dict[str, str], **kwargs: Any) -> Any:
    """:func:`run_legacy`, with the last line decoded from JSON."""
    last = run_legacy(script, env, **kwargs)
    try:
        return json.loads(last)
    except ValueError:
        pytest.fail(f"the legacy script's last line is not JSON: {last!r}", pytrace=False)
