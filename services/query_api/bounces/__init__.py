"""GET endpoints over the ``bounces`` read model."""
