"""Login pages and the TOTP secret for 2FA set-up (docs/logins.md)."""
