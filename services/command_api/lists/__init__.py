"""Mailing lists on the command side: commands, decider, HTTP routes."""
