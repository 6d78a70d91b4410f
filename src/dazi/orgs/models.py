from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dazi.accounts.models import Namespace, User
from dazi.db import Base, UTCDateTime, utcnow

ROLES = ("read", "write", "admin")


class Org(Base):
    __tablename__ = "orgs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    namespace_id: Mapped[int] = mapped_column(ForeignKey("namespaces.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    namespace: Mapped[Namespace] = relationship(lazy="joined")

    @property
    def name(self) -> str:
        return self.namespace.name


class Membership(Base):
    __tablename__ = "org_members"

    org_id: Mapped[int] = mapped_column(ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(8))  # read | write | admin
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    org: Mapped[Org] = relationship(lazy="joined")
    user: Mapped[User] = relationship(lazy="joined")
