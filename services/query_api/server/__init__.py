"""Server information routes of the query API (docs/server_info.md)."""
