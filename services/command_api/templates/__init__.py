"""E-mail templates on the command side: commands, decider, seeds, HTTP routes."""
