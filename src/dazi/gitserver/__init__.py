"""git smart-HTTP (clone, fetch, push) over the git objects the hub stores, via dulwich's protocol code."""
