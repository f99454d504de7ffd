"""`python -m umsgate` runs the command line."""

from __future__ import annotations

from umsgate.cli import main

if __name__ == "__main__":
    main()
