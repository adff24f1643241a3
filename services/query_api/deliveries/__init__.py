"""GET endpoints of campaign delivery records."""
