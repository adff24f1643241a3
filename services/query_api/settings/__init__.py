"""Application settings on the query side."""
