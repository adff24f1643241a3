"""GET routes of roles."""
