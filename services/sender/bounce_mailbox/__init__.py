"""Bounce mailbox scanning: ``bounce.mailboxes`` read over POP3 or IMAP (docs/bounces.md,
"Mailbox scanning").

``parse`` reads a bounce (DSN, ARF, plain-text reports) and classifies it; ``clients`` speaks
POP3 and IMAP; ``scanner`` runs the scans and hands the reports (``report.MailboxBounce``) to an
injected ``RecordBounces``.
"""

from services.sender.bounce_mailbox.report import BounceKind, MailboxBounce, RecordBounces
from services.sender.bounce_mailbox.scanner import MailboxScanner, ScanResult

__all__ = ["BounceKind", "MailboxBounce", "MailboxScanner", "RecordBounces", "ScanResult"]
