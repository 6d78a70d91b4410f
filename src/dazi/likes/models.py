"""One row per (user, repo) a user has liked."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from dazi.db import Base, UTCDateTime, utcnow


class RepoLike(Base):
    __tablename__ = "repo_likes"
    __table_args__ = (
        Index("ix_repo_likes_repo_id_created_at", "repo_id", "created_at"),
        Index("ix_repo_likes_user_id_created_at", "user_id", "created_at"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
