"""Campaigns on the command side: commands, decider, audience, HTTP routes."""
