"""The one error tree (errors.py): every exception class umsgate defines derives
from `UmsgateError`, and the names callers catch keep working."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import umsgate
from umsgate import errors
from umsgate.errors import ConnectorError, StoreError, UmsgateError


def modules() -> list[str]:
    return sorted(
        m.name for m in pkgutil.walk_packages(umsgate.__path__, prefix="umsgate.")
    )


def exception_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for name in modules():
        module = importlib.import_module(name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__.startswith("umsgate."):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return [found[k] for k in sorted(found)]


def test_every_exception_class_is_in_the_tree() -> None:
    classes = exception_classes()
    assert len(classes) > 20  # the walk found them
    outside = [
        f"{c.__module__}.{c.__qualname__}"
        for c in classes
        if not issubclass(c, UmsgateError)
    ]
    assert outside == []


def test_one_gateway_gone() -> None:
    from umsgate.front import intake
    from umsgate.hosting import process

    assert intake.GatewayGone is process.GatewayGone is errors.GatewayGone
    gone = errors.GatewayGone()
    # A front's callers catch a StoreError; a connector's, a ConnectorError.
    assert isinstance(gone, StoreError) and isinstance(gone, ConnectorError)
    assert str(gone).startswith("The gateway process is gone")


@pytest.mark.parametrize(
    ("path", "builtin"),
    [
        ("umsgate.config.BadValue", ValueError),
        ("umsgate.domain.phone.InvalidNumber", ValueError),
        ("umsgate.protocols.smpp.receipt.NotAReceipt", ValueError),
        ("umsgate.protocols.smpp.encoding.TooLong", ValueError),
        ("umsgate.protocols.smpp.link.LinkDown", ConnectionError),
    ],
)
def test_built_in_bases_that_callers_catch_are_kept(
    path: str, builtin: type[BaseException]
) -> None:
    module, name = path.rsplit(".", 1)
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, UmsgateError) and issubclass(cls, builtin)


def test_a_link_down_still_reads_as_its_message() -> None:
    from umsgate.protocols.smpp.link import LinkDown

    down = LinkDown("not bound")
    assert str(down) == "not bound" and down.message == "not bound"
