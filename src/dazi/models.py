"""Imports every domain's ORM models so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from dazi.accounts.models import Namespace, Token, User
from dazi.db import Base
from dazi.orgs.models import Membership, Org
from dazi.repos.models import BaseModelLink, BlobGitId, DownloadDay, GitObject, LfsObject, Ref, Repo, RepoTag

__all__ = [
    "Base",
    "BaseModelLink",
    "BlobGitId",
    "DownloadDay",
    "GitObject",
    "LfsObject",
    "Membership",
    "Namespace",
    "Org",
    "Ref",
    "Repo",
    "RepoTag",
    "Token",
    "User",
]
