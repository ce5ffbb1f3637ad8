"""`python -m raycurator.demo [--output DIR] [--docs N]`: the same as `raycurator demo`."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    """Run `raycurator demo` with these arguments (default: the command line's)."""
    from raycurator.cli.main import app

    app(["demo", *(sys.argv[1:] if argv is None else argv)], prog_name="raycurator")


if __name__ == "__main__":
    main()
