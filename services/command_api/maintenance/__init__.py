"""listmonk's maintenance commands (``cmd/maintenance.go``): delete orphan or blocklisted
subscribers, unconfirmed subscriptions, and analytics before a date. docs/maintenance.md."""
