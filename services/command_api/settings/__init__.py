"""Application settings on the command side: binding, listmonk's rules, secrets, decider, routes."""
