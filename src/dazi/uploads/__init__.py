"""Uploads: the commit API (NDJSON operations), LFS objects, and how content becomes history."""
