"""Driving the ModelScope SDKs and CLIs in subprocesses.

- The old SDK, modelscope 1.30 (the last generation before the ``modelscope-hub`` split), lives in its own
  virtual environment (``.venv-ms130``, made by ``make install-dev``): ``run_old`` runs a script there.
- The new SDK (1.40.2 over modelscope-hub) is imported in-process by most tests; ``run_new`` runs it in a
  fresh process when that is the point (a later process must find the persisted login).
- ``run_cli`` runs a console script (``modelscope`` of either environment).

Scripts get a prelude: ``P`` (the ``params`` as JSON), ``emit(obj)`` (prints one JSON line; a script's last
line is its result) and ``attempt(fn, *args, **kwargs)`` (``"ok"`` or the name of the exception raised).
Every process gets a private ``HOME`` and cache, and only the environment given here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
OLD_VENV = Path(os.environ.get("DAZI_MS_LEGACY_VENV", ROOT / ".venv-ms130"))
OLD_PYTHON = OLD_VENV / "bin" / "python"
NEW_BIN = Path(sys.executable).parent
OLD_VERSION_PREFIX = "1.30."

PRELUDE = '''
import json, os
P = json.loads(os.environ.get("DAZI_MS_PARAMS") or "{}")

emit = lambda obj: print(json.dumps(obj, default=str), flush=True)

def attempt(fn, *args, **kwargs):
    """``"ok"``, or the class name of the exception ``fn`` raised."""
    try:
        fn(*args, **kwargs)
    except Exception as exc:
        return type(exc).__name__
    return "ok"
'''

_INHERITED = ("PATH", "LANG", "LC_ALL", "TMPDIR")


def ms_env(home: Path, **extra: str) -> dict[str, str]:
    """A private home, credentials folder and cache under ``home``, plus ``extra`` variables."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        "HOME": str(home),
        "MODELSCOPE_CACHE": str(home / "cache"),
        "MODELSCOPE_HOME": str(home / ".modelscope"),
        "MODELSCOPE_DOWNLOAD_INTRA_CLOUD": "false",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "NO_COLOR": "1",
    }
    env.update(extra)
    return env


def require_old() -> None:
    """Skip (locally) or fail (in CI) when the old SDK's virtual environment is missing."""
    if OLD_PYTHON.is_file() and os.access(OLD_PYTHON, os.X_OK):
        return
    reason = f"the modelscope 1.30 venv is missing ({OLD_PYTHON}); create it with `make install-dev`"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}", pytrace=False)
    pytest.skip(reason)


def run_old(script: str, env: dict[str, str], params: dict[str, Any] | None = None, timeout: float = 300) -> Any:
    require_old()
    return _run_script(OLD_PYTHON, script, env, params, timeout)


def run_new(script: str, env: dict[str, str], params: dict[str, Any] | None = None, timeout: float = 300) -> Any:
    return _run_script(NEW_BIN / "python", script, env, params, timeout)


def run_cli(argv: list[str], env: dict[str, str], *, old: bool = False, timeout: float = 300) -> str:
    """Run a console script of the old or the new environment; returns its combined output (exit 0 required)."""
    if old:
        require_old()
    program = (OLD_VENV / "bin" if old else NEW_BIN) / argv[0]
    proc = _run([str(program), *argv[1:]], env, timeout, cwd=env["HOME"])
    return proc.stdout + proc.stderr


def _run_script(python: Path, script: str, env: dict[str, str], params: dict[str, Any] | None, timeout: float) -> Any:
    full = dict(env, DAZI_MS_PARAMS=json.dumps(params or {}))
    proc = _run([str(python), "-c", PRELUDE + textwrap.dedent(script)], full, timeout, cwd=env["HOME"])
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        pytest.fail(f"the script's last line is not JSON\n--- stdout ---\n{proc.stdout[-4000:]}\n"
                    f"--- stderr ---\n{proc.stderr[-8000:]}", pytrace=False)


def _run(argv: list[str], env: dict[str, str], timeout: float, cwd: str) -> subprocess.CompletedProcess[str]:
    full = {k: os.environ[k] for k in _INHERITED if k in os.environ}
    full.update(env)
    try:
        proc = subprocess.run(argv, env=full, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{argv[0]} timed out after {timeout} s\n{exc.stderr!r}"[-8000:], pytrace=False)
    if proc.returncode != 0:
        pytest.fail(f"{Path(argv[0]).name} exited with {proc.returncode}\n--- stderr ---\n{proc.stderr[-12000:]}\n"
                    f"--- stdout ---\n{proc.stdout[-4000:]}", pytrace=False)
    return proc
