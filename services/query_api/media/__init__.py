"""Media reads (``GET /api/media``, ``GET /api/media/:id``) and the uploaded files themselves
(served under ``upload.filesystem.upload_uri``); docs/media.md."""
