"""Public subscriber endpoints on the command side: sign-up, opt-in, unsubscribe, erasure."""
