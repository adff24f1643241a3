"""The public campaign archive: pages, RSS feed and JSON (no credentials)."""
