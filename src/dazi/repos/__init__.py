"""Repositories: models and datasets with git-compatible history."""
