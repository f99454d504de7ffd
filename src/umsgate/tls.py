"""TLS on the gateway's own port, for a deployment without a proxy in front:
``umsgate serve --tls-cert FILE --tls-key FILE`` (``[server] tls_cert`` and
``tls_key``; docs/security.md). The gateway process (``--workers 0``, through
uvicorn) and every front serve the same certificate.

The context is the standard library's server default (TLS 1.2 or later, its cipher
choice, no client certificates). The files are read once at start, so a renewed
certificate needs a restart.
"""

from __future__ import annotations

import ssl

from umsgate.config import ServerSettings
from umsgate.errors import ConfigError


def server_context(server: ServerSettings) -> ssl.SSLContext | None:
    """The TLS context of ``server``'s port, or None when it serves plain HTTP.

    Raises:
        ConfigError: a file cannot be read, or the key does not match the
            certificate.
    """
    if not server.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        # An encrypted key would make OpenSSL ask for its password on the terminal:
        # a wrong (empty) one makes it fail instead.
        context.load_cert_chain(server.tls_cert, server.tls_key, password=b"")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"server.tls_cert / tls_key: no such file: {exc.filename}"
        ) from None
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"server.tls_cert {server.tls_cert!r} and tls_key {server.tls_key!r} "
            f"cannot be used (a PEM certificate and its unencrypted private key): "
            f"{exc}"
        ) from None
    return context
