"""listmonk's ``privacy.domain_blocklist`` / ``privacy.domain_allowlist`` on subscribers'
e-mail addresses.

As listmonk (``subimporter.SanitizeEmail``): the address's domain (lower case, as the settings
store it) is looked up as it is and, when the list has wildcards and the domain has at least
two dots, with its first label replaced by ``*`` (``a.mail.example.com`` ->
``*.mail.example.com``); ``*.example.com`` in a list also covers ``example.com`` itself. With
an allowlist only its domains are accepted and the blocklist is not consulted; otherwise a
blocklisted domain is refused. The refusal is a 400 with listmonk's message. Applied to public
sign-ups, subscribers created or changed through the API, and each imported record.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from events.settings import AppSettings
from kernel.errors import InvalidInput

DOMAIN_REFUSED = "The e-mail domain is blocklisted."


def _domain_set(domains: Iterable[str]) -> tuple[frozenset[str], bool]:
    out: set[str] = set()
    wildcards = False
    for domain in domains:
        out.add(domain)
        if "*." in domain:
            wildcards = True
            out.add(domain.removeprefix("*."))
    return frozenset(out), wildcards


def _listed(domain: str, domains: frozenset[str], wildcards: bool) -> bool:
    if domain in domains:
        return True
    if wildcards and domain.count(".") > 1:
        return "*." + domain.split(".", 1)[1] in domains
    return False


@dataclass(frozen=True)
class DomainPolicy:
    """The lists in force, prepared once per settings."""

    blocked: frozenset[str] = frozenset()
    blocked_wildcards: bool = False
    allowed: frozenset[str] = frozenset()
    allowed_wildcards: bool = False

    @classmethod
    def of(cls, settings: AppSettings) -> DomainPolicy:
        blocked, blocked_wild = _domain_set(settings.privacy_domain_blocklist)
        allowed, allowed_wild = _domain_set(settings.privacy_domain_allowlist)
        return cls(blocked, blocked_wild, allowed, allowed_wild)

    def accepts(self, email: str) -> bool:
        """Whether a sanitised (lower-case, bare) address may subscribe."""
        local, at, domain = email.rpartition("@")
        if not at or not local:
            return True  # not an address: its own validation refuses it
        if self.allowed:
            return _listed(domain, self.allowed, self.allowed_wildcards)
        if self.blocked:
            return not _listed(domain, self.blocked, self.blocked_wildcards)
        return True

    def check(self, email: str) -> str:
        """``email`` if accepted; otherwise a 400 with listmonk's message."""
        if not self.accepts(email):
            raise InvalidInput(DOMAIN_REFUSED)
        return email
