"""Accounts: namespaces, users, access tokens."""
