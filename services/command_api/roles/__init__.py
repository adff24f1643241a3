"""Roles: user roles (permissions) and list roles (rights per list), listmonk's /api/roles."""
