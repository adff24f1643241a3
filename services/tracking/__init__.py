"""View and click tracking: link registration, the batching recorder and the lookups the
tracking routes make (docs/tracking.md)."""
