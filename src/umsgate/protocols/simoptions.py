"""Options of the ``umsgate sim PROTOCOL`` commands, each with its environment twin
``UMSGATE_SIM_<PROTOCOL>_<NAME>``."""

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
