"""Messengers: how a rendered message leaves postlog (SMTP server pools, HTTP postback)."""
