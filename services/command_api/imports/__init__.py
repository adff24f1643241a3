"""Bulk import of subscribers from a CSV (or a ZIP holding one), listmonk's
``/api/import/subscribers``: upload, background job, progress, stop, log."""
