"""Secrets kept encrypted in the store: the clients' webhook signing keys.

When the operator configures a key (``UMSGATE_SECRET_KEY``, or ``[security]
key_file``), a signing key is stored as ``fernet:`` followed by a Fernet token of it
(AES-128-CBC and HMAC-SHA256 with a random IV, from the ``cryptography``
package): a copy of the database alone (a backup, a stolen disk, a read-only SQL
injection) does not give the keys that sign the reports. Without a key, values are
stored as they are, and a sealed value cannot be read (`SealError`): the gateway
refuses to start rather than sign with nothing. Values stored in clear before a key
was configured stay readable, and are sealed at the next start
(`umsgate.webhookkeys.seal_signing_keys`).

The trade-off: the key has to be where the gateway runs (the environment of its
process or a file of mode 0600), so whoever can read that environment or file and
the database has the keys; encryption protects the database's copies, not a
compromised host.
"""

from __future__ import annotations

import binascii
from typing import TYPE_CHECKING

from umsgate.errors import UmsgateError

if TYPE_CHECKING:
    from cryptography.fernet import Fernet

# `cryptography` is imported where a key is used, not with this module: the front
# and connector processes import it (through the client directory) and never seal
# anything, and the import costs each of them some 6 MB.

#: What marks a sealed value in the store.
PREFIX = "fernet:"


class SealError(UmsgateError):
    """A stored secret is encrypted, and the configured key cannot open it."""


def new_key() -> str:
    """A new key: 32 random bytes, URL-safe base64 (44 characters)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def check_key(key: str) -> None:
    """Raises:
    ValueError: ``key`` is not 32 bytes in URL-safe base64 (what `new_key` makes).
    """
    from cryptography.fernet import Fernet

    try:
        Fernet(key.encode())
    except (ValueError, binascii.Error):
        raise ValueError(
            "a secret key is 32 bytes in URL-safe base64 (44 characters; "
            "`umsgate secret-key` makes one)"
        ) from None


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


class Sealer:
    """Seals and opens stored secrets with one key, or none ("")."""

    def __init__(self, key: str = "") -> None:
        """Raises:
        ValueError: see `check_key`.
        """
        self._fernet: Fernet | None = None
        if key:
            from cryptography.fernet import Fernet

            check_key(key)
            self._fernet = Fernet(key.encode())

    @property
    def active(self) -> bool:
        """Whether a key is configured (new values are then sealed)."""
        return self._fernet is not None

    def seal(self, clear: str) -> str:
        """The stored form of ``clear``: sealed with the key, or as it is."""
        if self._fernet is None:
            return clear
        return PREFIX + self._fernet.encrypt(clear.encode()).decode()

    def open(self, stored: str, *, what: str = "a stored secret") -> str:
        """The clear value of a stored one (a value stored in clear as it is).

        Raises:
            SealError: ``stored`` is sealed, and no key or another key is configured.
        """
        if not is_sealed(stored):
            return stored
        if self._fernet is None:
            raise SealError(
                f"{what} is encrypted and no secret key is configured "
                "(UMSGATE_SECRET_KEY or [security] key_file)"
            )
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode()).decode()
        except InvalidToken:
            raise SealError(
                f"{what} is encrypted with another key than the one configured"
            ) from None
