"""Imports every domain's ORM models so that ``Base.metadata`` knows all tables (Alembic, tests)."""

from dazi.accounts.models import Namespace, Token, User
from dazi.db import Base
from dazi.deployments.models import Deployment, DeploymentReplica
from dazi.jobs.models import Job
from dazi.likes.models import RepoLike
from dazi.orgs.models import Membership, Org
from dazi.repos.models import (
    BaseModelLink,
    BlobGitId,
    DownloadDay,
    GitObject,
    LfsObject,
    Ref,
    Repo,
    RepoSearch,
    RepoTag,
)
from dazi.web.models import WebSession

__all__ = [
    "Base",
    "BaseModelLink",
    "BlobGitId",
    "Deployment",
    "DeploymentReplica",
    "DownloadDay",
    "GitObject",
    "Job",
    "LfsObject",
    "Membership",
    "Namespace",
    "Org",
    "Ref",
    "Repo",
    "RepoLike",
    "RepoSearch",
    "RepoTag",
    "Token",
    "User",
    "WebSession",
]
