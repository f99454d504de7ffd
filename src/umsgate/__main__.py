"""`python -m umsgate` runs the command line, or one of the processes ``serve``
starts (`umsgate.children`), which need none of the command line's imports."""

from __future__ import annotations

import sys

if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("front", "connector-process"):
        from umsgate.children import main as child_main

        sys.exit(child_main(sys.argv[1:]))
    from umsgate.cli import main

    main()
