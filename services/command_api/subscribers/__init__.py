"""Subscribers on the command side: commands, decider, request fields, indexes, HTTP routes."""
