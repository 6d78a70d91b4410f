"""Likes: users mark repos they like; ``Repo.likes`` is the count, kept in step in the same transaction."""
