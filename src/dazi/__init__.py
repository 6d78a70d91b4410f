"""dazi (搭子): a self-hosted AI model community.

Importing this package does nothing but expose the version: the app, the
database engine and the settings are built only by ``create_app`` and the CLI.
"""

__version__ = "0.1.0.dev0"
