"""Authentication: users (events and the command-side table), password and
token hashing, and the request guard both APIs use."""
