"""Campaigns on the query side: read-model queries and GET routes."""
