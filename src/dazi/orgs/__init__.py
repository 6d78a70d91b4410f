"""Organizations and their members' roles."""
