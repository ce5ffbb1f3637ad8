"""Writes the WARC files that `examples/common_crawl.yaml` reads (examples/data/common_crawl/).

Real web-page structure (navigation, scripts, cookie banner, sidebar, footer) around real prose
from Python's own documentation, packed with warcio: articles, exact and near copies, a
placeholder page, Latin filler text, a PDF and an image. Run from the repository root:

    .venv/bin/python examples/make_common_crawl_warcs.py [--files 2] [--pages 16]
"""

from __future__ import annotations

import argparse
import os

from raycurator.stages.text.download.testing import write_example_warcs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", default=os.path.join("examples", "data", "common_crawl"))
    parser.add_argument("--files", type=int, default=2)
    parser.add_argument("--pages", type=int, default=16, help="articles per file (plus copies and junk)")
    args = parser.parse_args()
    os.makedirs(args.output, exist_ok=True)
    for path in write_example_warcs(args.output, args.files, args.pages):
        print(f"wrote {path} ({os.path.getsize(path):,} bytes)")


if __name__ == "__main__":
    main()
