"""The hub's shared services, built once from Settings: database, blob store, signing key."""

from __future__ import annotations

from dataclasses import dataclass

from dazi.blobstore import BlobStore, make_blobstore
from dazi.config import Settings
from dazi.db import Database, migrate


@dataclass
class Hub:
    settings: Settings
    db: Database
    blobs: BlobStore
    secret: bytes

    @classmethod
    def open(cls, settings: Settings, *, run_migrations: bool = True) -> Hub:
        """Connect to the database (applying migrations) and the blob store."""
        url = settings.resolved_database_url()
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        if run_migrations:
            migrate(url)
        blobs = make_blobstore(
            settings.resolved_storage_url(),
            s3_endpoint_url=settings.s3_endpoint_url,
            s3_region=settings.s3_region,
            s3_access_key_id=settings.s3_access_key_id,
            s3_secret_access_key=settings.s3_secret_access_key,
            s3_create_bucket=settings.s3_create_bucket,
        )
        db = Database(url)
        db.optimize()
        return cls(settings=settings, db=db, blobs=blobs, secret=settings.resolved_secret_key().encode())

    def close(self) -> None:
        self.db.dispose()
