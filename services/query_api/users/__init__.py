"""GET routes of users and the profile."""
