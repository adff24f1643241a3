"""Commands on campaign deliveries: sending the failed ones again."""
