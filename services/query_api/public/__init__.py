"""The public subscriber pages on the query side: subscription form, opt-in, manage, export."""
