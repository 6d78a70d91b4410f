"""The ``deployments`` table (what should run) and ``deployment_replicas`` (what runs now).

A deployment row is written by the API (create, scale, stop, start, delete) and by the supervisor that
holds its lease (``lease_owner`` + ``lease_expires_at``, claimed and renewed with compare-and-swap
updates, so that two API processes never run the same deployment). The supervisor writes the state of
each replica into ``deployment_replicas``, including its routing URL, so that any API worker sharing the
database can route ``/v1`` calls to it. Replica rows are trusted only while the lease is live.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dazi.db import Base, UTCDateTime, utcnow

RUNNING, STOPPED = "running", "stopped"  # what the owner wants


class Deployment(Base):
    __tablename__ = "deployments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(63), unique=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"), index=True)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    repo_pk: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), index=True)
    repo_id: Mapped[str] = mapped_column(String(200))
    revision: Mapped[str] = mapped_column(String(255))
    commit: Mapped[str] = mapped_column(String(64))
    engine: Mapped[str] = mapped_column(String(32))
    replicas: Mapped[int] = mapped_column(Integer, default=1)
    wanted: Mapped[str] = mapped_column(String(16), default=RUNNING)
    generation: Mapped[int] = mapped_column(Integer, default=0)  # bumped by "start": replicas are re-created
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    secret: Mapped[str] = mapped_column(String(64))
    requests_total: Mapped[int] = mapped_column(BigInteger, default=0)
    requests_failed: Mapped[int] = mapped_column(BigInteger, default=0)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0)
    latency_ms_total: Mapped[int] = mapped_column(BigInteger, default=0)
    backend: Mapped[str | None] = mapped_column(String(16), nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeploymentReplica(Base):
    __tablename__ = "deployment_replicas"

    deployment_id: Mapped[str] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), primary_key=True)
    index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    status: Mapped[str] = mapped_column(String(16))
    url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    restarts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)  # shown to administrators only
    host: Mapped[str | None] = mapped_column(String(200), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
