"""Bounces: recording (webhooks, the mailbox scanner), the bounce rules and the bounces API."""
