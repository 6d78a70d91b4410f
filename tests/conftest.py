"""Test fixtures: the hub on loopback over the selected backend, users with tokens, clean client homes.

``DAZI_TEST_BACKEND`` picks the storage: ``sqlite`` (SQLite + local files, the default) or
``postgres-s3`` (a throwaway PostgreSQL cluster + moto's S3 server). The same tests run on both.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.pushed_models import minilm, tiny_llama  # noqa: F401 - fixtures, registered once here
from tests.support.services import LiveServer, Moto, Postgres, free_port

BACKEND = os.environ.get("DAZI_TEST_BACKEND", "sqlite")
_HOME = Path(tempfile.mkdtemp(prefix="dazi-test-home-"))
_PORT = free_port()


def pytest_configure(config: pytest.Config) -> None:
    # Client libraries read these when first imported: point them at the hub and at a clean home.
    os.environ["HOME"] = str(_HOME)
    os.environ["HF_HOME"] = str(_HOME / "hf")
    os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{_PORT}"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ["HF_HUB_ETAG_TIMEOUT"] = "60"
    os.environ["HF_HUB_DOWNLOAD_TIMEOUT"] = "60"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    os.environ.pop("HF_TOKEN", None)
    config.addinivalue_line("markers", f"backend_{BACKEND}: the selected backend")


def pytest_report_header() -> str:
    return f"dazi test backend: {BACKEND}"


@dataclass
class Account:
    name: str
    email: str
    password: str
    write_token: str
    read_token: str


class HubUnderTest:
    """The running hub plus helpers that act through its services (like the admin CLI does)."""

    def __init__(self, hub: object, server: LiveServer, settings: object, backend: str):
        self.hub = hub
        self.server = server
        self.url = server.url
        self.settings = settings
        self.backend = backend

    def new_user(self, prefix: str = "user", *, admin: bool = False) -> Account:
        from dazi.accounts.services import create_token, create_user

        name = f"{prefix}-{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(12)
        with self.hub.db.write() as session:  # type: ignore[attr-defined]
            user = create_user(session, name, f"{name}@example.org", password, is_admin=admin)
            _t, write = create_token(session, user, "write", "tests")
            _t, read = create_token(session, user, "read", "tests-read")
        return Account(name, f"{name}@example.org", password, write, read)

    def new_org(self, owner: Account, prefix: str = "org") -> str:
        from dazi.accounts.services import get_user
        from dazi.orgs.services import create_org

        name = f"{prefix}-{secrets.token_hex(4)}"
        with self.hub.db.write() as session:  # type: ignore[attr-defined]
            create_org(session, name, get_user(session, owner.name))
        return name

    def add_member(self, org: str, account: Account, role: str) -> None:
        from dazi.accounts.services import get_user
        from dazi.orgs.services import get_org, set_member

        with self.hub.db.write() as session:  # type: ignore[attr-defined]
            set_member(session, get_org(session, org), get_user(session, account.name), role)


def backend_settings(tmp: Path) -> tuple[dict[str, object], list[object]]:
    """Settings for the selected backend, and the services to stop afterwards."""
    if BACKEND == "sqlite":
        return {}, []
    if BACKEND != "postgres-s3":
        raise pytest.UsageError(f"unknown DAZI_TEST_BACKEND {BACKEND!r}")
    # Not under pytest's basetemp: concurrent pytest runs prune each other's old basetemps.
    pg = Postgres.start(Path(tempfile.mkdtemp(prefix="dazi-pg-")))
    moto = Moto()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    values = {
        "database_url": pg.create_database(f"dazi_{worker}"),
        "storage_url": f"s3://dazi-test-{worker}/blobs",
        "s3_endpoint_url": moto.url,
        "s3_access_key_id": "testing",
        "s3_secret_access_key": "testing",
        "s3_region": "us-east-1",
    }
    return values, [moto, pg]


@pytest.fixture(scope="session")
def hub_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubUnderTest]:
    from dazi.app import create_app
    from dazi.config import Settings
    from dazi.hub import Hub

    tmp = tmp_path_factory.mktemp("hub")
    values, services = backend_settings(tmp)
    settings = Settings(data_dir=tmp / "data", secret_key="test-secret-key-" + secrets.token_hex(8), **values)
    hub = Hub.open(settings)
    server = LiveServer(create_app(settings, hub), _PORT)
    yield HubUnderTest(hub, server, settings, BACKEND)
    server.stop()
    hub.close()
    for service in services:
        service.stop()  # type: ignore[attr-defined]


@pytest.fixture
def alice(hub_server: HubUnderTest) -> Account:
    return hub_server.new_user("alice")


@pytest.fixture
def bob(hub_server: HubUnderTest) -> Account:
    return hub_server.new_user("bob")


@pytest.fixture
def hf_api(hub_server: HubUnderTest, alice: Account):  # type: ignore[no-untyped-def]
    from huggingface_hub import HfApi

    return HfApi(endpoint=hub_server.url, token=alice.write_token)
