"""The bounce webhooks of mail providers, each verifying its sender as listmonk does."""
