"""listmonk's maintenance reads: the campaign analytics export. docs/maintenance.md."""
