"""Options of the ``umsgate sim PROTOCOL`` commands, each with its environment twin
``UMSGATE_SIM_<PROTOCOL>_<NAME>``, and the checks their values share."""

from __future__ import annotations

import typer
from typer.models import OptionInfo


class SimOptions:
    """Makes the options of one protocol's simulator command."""

    def __init__(self, protocol: str) -> None:
        #: Start of every environment twin's name, ``UMSGATE_SIM_SMPP_``.
        self.prefix = f"UMSGATE_SIM_{protocol}_"

    def __call__(
        self, name: str, *decls: str, help: str, min: int | None = None
    ) -> OptionInfo:
        """The option whose environment twin is the prefix and ``name``."""
        option: OptionInfo = typer.Option(
            *decls, help=help, envvar=self.prefix + name, min=min
        )
        return option

    def host(self) -> OptionInfo:
        """``--host``: the address every simulator listens on."""
        return self("HOST", help="Address to listen on.")

    def port(self) -> OptionInfo:
        """``--port`` of an HTTP simulator."""
        return self("PORT", help="Port (0: any free).")

    def seed(self) -> OptionInfo:
        """``--seed`` of an HTTP simulator's outcome mix."""
        return self("SEED", help="Seed of the mix.")


def check_http_url(url: str | None, param_hint: str) -> None:
    """Refuse a URL the simulator is to call that is not http(s) (None: no URL).

    Raises:
        typer.BadParameter: naming ``param_hint``.
    """
    if url is not None and not url.startswith(("http://", "https://")):
        raise typer.BadParameter(
            "must be an http:// or https:// URL", param_hint=param_hint
        )
