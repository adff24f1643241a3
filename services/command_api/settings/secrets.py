"""Which secret a PUT means, and sealing it before it reaches an event.

listmonk's GET shows each secret as ``•`` repeated; its UI sends ``""`` back for a secret the
user did not retype, and other clients send the mask itself. Both mean "keep the stored one":
for an item of ``smtp``, ``messengers`` or ``bounce.mailboxes`` the stored item with the same
uuid, for the other secrets the stored value of the same key (listmonk keeps those when sent
empty as well, so a secret cannot be cleared by sending ``""``). Anything else is a new secret,
checked as one-line text and sealed with the settings key. A mask that matches no stored secret
is refused: storing ``••••`` as a password would be a silent mistake.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from events.crypto import DecryptionError, decrypt_value, encrypt_value, is_encrypted
from events.settings import AppSettings
from events.settings_secrets import is_mask, map_secrets, secrets_of, settings_aad
from events.validation import LINE_MAX_BYTES, check_line
from kernel.errors import InvalidInput

MASK_WITHOUT_SECRET = "Clear and re-enter the full password in '{name}'."  # listmonk's words


def resolve_secrets(incoming: AppSettings, current: AppSettings,
                    current_lengths: dict[str, int], key: bytes
                    ) -> tuple[AppSettings, dict[str, int]]:
    """``incoming`` with every secret sealed, and each secret's length.

    ``current`` is the stored settings (its secrets sealed, or open for listmonk's defaults,
    which are sealed now); a secret sent as ``""`` or as a mask takes the stored one at the same
    path (``events.settings_secrets``), unchanged if already sealed; a secret sent in clear that
    equals the stored one keeps the stored token, so sending the same object twice changes
    nothing."""
    stored = secrets_of(current)
    lengths: dict[str, int] = {}
    aead = AESGCM(key)

    def resolve(path: str, value: str) -> str:
        kept = stored.get(path, "")
        if value and value == kept and is_encrypted(kept):
            # The stored token itself: ``PUT /api/settings/:key`` binds the one key it sends
            # onto the stored settings, whose other secrets are these tokens. Sealing one
            # again would grow it at every such PUT, until no settings change passed.
            lengths[path] = current_lengths.get(path, 8)
            return kept
        if not value or is_mask(value):
            kept = stored.get(path, "")
            if not kept:
                if value:
                    raise InvalidInput(MASK_WITHOUT_SECRET.format(name=_field(path)))
                return ""
            if is_encrypted(kept):
                lengths[path] = current_lengths.get(path, 8)
                return kept
            value = kept  # a default's secret, in clear in the code: sealed below
        check_line(value, _field(path), LINE_MAX_BYTES)
        lengths[path] = len(value)
        kept = stored.get(path, "")
        if is_encrypted(kept) and _opens_to(kept, path, value):
            return kept  # the same secret sent again: nothing changes
        return encrypt_value(key, value, settings_aad(path))

    def _opens_to(token: str, path: str, value: str) -> bool:
        try:
            return bool(decrypt_value(aead, token, settings_aad(path)) == value)
        except DecryptionError:
            return False

    return map_secrets(incoming, resolve), lengths


def _field(path: str) -> str:
    """A secret's path as error messages name fields (``smtp[<uuid>].password``)."""
    parts = path.strip("/").split("/")
    if len(parts) == 3:
        return f"{parts[0]}[{parts[1].lstrip('#')}].{parts[2]}"
    return ".".join(parts)
