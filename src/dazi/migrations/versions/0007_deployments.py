"""deployments

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 22:00:00

- ``deployments``: named, persistent endpoints for a model revision (``dazi.deployments``): what should
  run (replicas, running or stopped), who owns it, its secret, counters, and the lease of the supervisor
  running its replicas.
- ``deployment_replicas``: the replicas running now (status, routing URL, restarts, last error), written
  by the supervisor, read by every API worker to route ``/v1`` calls.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dazi.db

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("namespace_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("repo_pk", sa.Integer(), nullable=False),
        sa.Column("repo_id", sa.String(length=200), nullable=False),
        sa.Column("revision", sa.String(length=255), nullable=False),
        sa.Column("commit", sa.String(length=64), nullable=False),
        sa.Column("engine", sa.String(length=32), nullable=False),
        sa.Column("replicas", sa.Integer(), nullable=False),
        sa.Column("wanted", sa.String(length=16), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.String(length=64), nullable=False),
        sa.Column("requests_total", sa.BigInteger(), nullable=False),
        sa.Column("requests_failed", sa.BigInteger(), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger(), nullable=False),
        sa.Column("completion_tokens", sa.BigInteger(), nullable=False),
        sa.Column("latency_ms_total", sa.BigInteger(), nullable=False),
        sa.Column("backend", sa.String(length=16), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", dazi.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", dazi.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", dazi.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_deployments_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["namespace_id"], ["namespaces.id"], name=op.f("fk_deployments_namespace_id_namespaces"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["repo_pk"], ["repos.id"], name=op.f("fk_deployments_repo_pk_repos"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
        sa.UniqueConstraint("name", name=op.f("uq_deployments_name")),
    )
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deployments_namespace_id"), ["namespace_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deployments_repo_pk"), ["repo_pk"], unique=False)

    op.create_table(
        "deployment_replicas",
        sa.Column("deployment_id", sa.String(length=32), nullable=False),
        sa.Column("index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("restarts", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("host", sa.String(length=200), nullable=True),
        sa.Column("updated_at", dazi.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_deployment_replicas_deployment_id_deployments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("deployment_id", "index", name=op.f("pk_deployment_replicas")),
    )


def downgrade() -> None:
    op.drop_table("deployment_replicas")
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deployments_repo_pk"))
        batch_op.drop_index(batch_op.f("ix_deployments_namespace_id"))
    op.drop_table("deployments")
