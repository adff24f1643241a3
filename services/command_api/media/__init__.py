"""Media uploads (``POST /api/media``) and deletion (``DELETE /api/media/:id``); docs/media.md."""
