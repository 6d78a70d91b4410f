"""Fixtures of the ModelScope contract tests: users, a TLS twin of the hub (the old SDK speaks only HTTPS
when configured by environment), client environments and file helpers."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.ms_legacy import ms_env
from tests.support.services import LiveServer, free_port

MiB = 1024 * 1024


@dataclass
class TlsHub:
    url: str
    domain: str  # host:port, what MODELSCOPE_DOMAIN takes
    ca_bundle: Path


@pytest.fixture(scope="session")
def tls_hub(hub_server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsHub]:
    """The same hub (same database and blobs) also served over HTTPS with a self-signed certificate."""
    from dazi.app import create_app

    folder = tmp_path_factory.mktemp("tls")
    cert, key = self_signed_certificate(folder)
    port = free_port()
    server = LiveServer(create_app(hub_server.settings, hub_server.hub), port, ssl_certfile=str(cert),
                        ssl_keyfile=str(key))
    yield TlsHub(server.url, f"127.0.0.1:{port}", cert)
    server.stop()


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost that is its own CA (for ``REQUESTS_CA_BUNDLE``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dazi test hub")])
    now = dt.datetime.now(dt.UTC)
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def old_sdk_env(tls: TlsHub, home: Path) -> dict[str, str]:
    """The old SDK as its users configure it: ``MODELSCOPE_DOMAIN`` (always HTTPS) and the CA to trust."""
    return ms_env(home, MODELSCOPE_DOMAIN=tls.domain, REQUESTS_CA_BUNDLE=str(tls.ca_bundle),
                  SSL_CERT_FILE=str(tls.ca_bundle))


def sha256_file(path: str | Path) -> str:
    with Path(path).open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_files(root: Path, files: dict[str, bytes]) -> Path:
    """Create ``root/<relative path>`` for each entry of ``files``; returns ``root``."""
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def random_file(path: Path, size: int) -> str:
    """Write ``size`` random bytes (in 8 MiB pieces) and return their sha256."""
    digest = hashlib.sha256()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        left = size
        while left:
            chunk = os.urandom(min(left, 8 * MiB))
            digest.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


CACHE_BOOKKEEPING = {".msc", ".mdl", ".mv", ".ms_upload_cache", ".ms_upload_progress"}


def tree_hashes(root: str | Path) -> dict[str, str]:
    """``relative path -> sha256`` of the files under ``root``, the SDKs' own bookkeeping files left out."""
    base = Path(root)
    return {
        p.relative_to(base).as_posix(): sha256_file(p)
        for p in sorted(base.rglob("*"))
        if p.is_file() and not CACHE_BOOKKEEPING & {p.name, *p.relative_to(base).parts}
        and not any(part.startswith("._") for part in p.relative_to(base).parts)
    }
