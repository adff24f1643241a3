"""Logins for people: /admin/login, its TOTP step, logout and 2FA (docs/logins.md)."""
