"""Realistic web pages packed into WARC files, for the examples, tests and benchmarks.

The main text of each page is real human-written English prose shipped with Python itself
(the essay on heaps in `heapq.__about__` and the long docstrings of a few standard-library
modules), wrapped in what real pages carry around it: a navigation bar, scripts and styles, a
cookie banner, a newsletter box, a sidebar of related links and a footer. WARC files are
written with warcio (request and response records, as Common Crawl stores them).
"""

from __future__ import annotations

import gzip
import heapq
import html
import importlib
import io
import json
import os
import re
from dataclasses import dataclass, field

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

_PROSE_MODULES = ("shelve", "argparse", "unittest", "statistics", "http.cookies", "sched", "doctest", "subprocess")

NAV_LINKS = ("Home", "News", "World", "Business", "Technology", "Science", "Sports", "Opinion", "Contact us")
COOKIE_BANNER = 'This site uses cookies to improve your experience. <a href="/cookies">Learn more</a>'
NEWSLETTER = "Subscribe to our newsletter! Get the latest stories delivered straight to your inbox every week."
FOOTER = "Copyright 2024 Example Media Group. All rights reserved. Privacy policy | Terms of use | Cookie settings"
RELATED = ("Ten tips for faster code", "Why your laptop is slow", "The best keyboards of the year", "Login")
SCRIPT = (
    "window.dataLayer = window.dataLayer || []; function gtag(){dataLayer.push(arguments);} "
    "gtag('js', new Date()); gtag('config', 'UA-000000-1'); document.addEventListener('DOMContentLoaded', "
    "function () { var banner = document.getElementById('cookie-banner'); if (banner) { banner.hidden = false; } });"
)
#: Strings of the page furniture that a good extractor drops.
BOILERPLATE_MARKERS = (
    "uses cookies",
    "Accept all",
    "newsletter",
    "All rights reserved",
    "dataLayer",
    "Ten tips for faster code",
)


def prose_paragraphs(min_words: int = 25) -> list[str]:
    """Paragraphs of real English prose (at least `min_words` words, no code or diagrams)."""
    texts = [heapq.__about__] + [importlib.import_module(name).__doc__ or "" for name in _PROSE_MODULES]
    paragraphs = []
    for text in texts:
        for block in re.split(r"\n\s*\n", text):
            if any(mark in block for mark in (">>>", "===", "---", "Copyright")):
                continue
            words = block.split()
            letters = sum(ch.isalpha() for ch in block)
            upper = sum(ch.isupper() for ch in block)
            dense = letters / max(1, len(block.replace(" ", ""))) > 0.8
            if len(words) >= min_words and dense and upper < 0.1 * letters:
                paragraphs.append(" ".join(words))
    return paragraphs


def html_page(title: str, paragraphs: list[str], charset: str = "utf-8") -> str:
    """A full HTML page: `paragraphs` as the article inside navigation, scripts, banners and footer."""
    nav = "".join(f'<li><a href="/{n.lower().replace(" ", "-")}">{n}</a></li>' for n in NAV_LINKS)
    related = "".join(f'<li><a href="/r/{i}">{html.escape(t)}</a></li>' for i, t in enumerate(RELATED))
    article = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="{charset}"><title>{html.escape(title)}</title>'
        f"<style>body{{font-family:sans-serif}} .nav li{{display:inline}}</style><script>{SCRIPT}</script></head>"
        f'<body><header><div class="logo"><a href="/">Example Media</a></div>'
        f'<nav><ul class="nav">{nav}</ul></nav></header>'
        f'<div id="cookie-banner" class="cookie-consent"><p>{COOKIE_BANNER}</p><button>Accept all</button>'
        f"<button>Manage preferences</button></div>"
        f"<main><article><h1>{html.escape(title)}</h1>{article}</article></main>"
        f'<aside class="sidebar"><h3>Related</h3><ul>{related}</ul><div class="newsletter"><p>{NEWSLETTER}</p>'
        f'<form><input type="email" placeholder="Email"><button>Sign up</button></form></div></aside>'
        f'<footer><p>{FOOTER}</p><ul><li><a href="/about">About</a></li><li><a href="/careers">Careers</a></li></ul>'
        f'</footer><script src="/static/app.js"></script></body></html>'
    )


@dataclass
class WarcPage:
    """One response record: its URL, body bytes and HTTP content type."""

    url: str
    body: bytes
    content_type: str = "text/html; charset=utf-8"
    paragraphs: list[str] = field(default_factory=list)


def write_warc(path: str, pages: list[WarcPage], compress: bool = True) -> None:
    """Write `pages` as a WARC file (one gzip member per record when `compress`)."""
    buffer = io.BytesIO()
    writer = WARCWriter(buffer, gzip=compress)
    writer.write_record(writer.create_warcinfo_record(os.path.basename(path), {"software": "raycurator tests"}))
    for page in pages:
        request = StatusAndHeaders(f"GET {page.url} HTTP/1.1", [("Host", "example.org")], is_http_request=True)
        writer.write_record(writer.create_warc_record(page.url, "request", http_headers=request))
        headers = StatusAndHeaders(
            "200 OK",
            [("Content-Type", page.content_type), ("Content-Length", str(len(page.body)))],
            protocol="HTTP/1.1",
        )
        record = writer.create_warc_record(page.url, "response", payload=io.BytesIO(page.body), http_headers=headers)
        writer.write_record(record)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(buffer.getvalue())


def article_pages(
    count: int, paragraphs_per_page: int = 3, offset: int = 0, site: str = "example.org"
) -> list[WarcPage]:
    """`count` pages, each with `paragraphs_per_page` consecutive prose paragraphs (cycling through them)."""
    prose = prose_paragraphs()
    pages = []
    for i in range(offset, offset + count):
        chosen = [prose[(i * paragraphs_per_page + j) % len(prose)] for j in range(paragraphs_per_page)]
        body = html_page(f"Article {i}: {chosen[0][:40]}", chosen).encode("utf-8")
        pages.append(WarcPage(url=f"https://{site}/articles/{i}", body=body, paragraphs=chosen))
    return pages


def write_crawl(
    root: str, snapshot: str = "2024-10", files: int = 2, pages_per_file: int = 4
) -> dict[str, list[WarcPage]]:
    """A Common Crawl layout under `root`: `collinfo.json`, the snapshot's `warc.paths.gz` and its WARC files.

    Returns `{relative WARC path: pages}`.
    """
    year, week = snapshot.split("-")
    crawl = f"CC-MAIN-{year}-{int(week):02d}"
    with open(os.path.join(root, "collinfo.json"), "w") as handle:
        json.dump([{"id": crawl, "name": f"{year} week {week} index"}], handle)
    written: dict[str, list[WarcPage]] = {}
    for n in range(files):
        relative = f"crawl-data/{crawl}/segments/1700000000000.{n}/warc/{crawl}-2024{n:04d}-{n:05d}.warc.gz"
        pages = article_pages(pages_per_file, offset=n * pages_per_file)
        write_warc(os.path.join(root, relative), pages)
        written[relative] = pages
    index = os.path.join(root, "crawl-data", crawl, "warc.paths.gz")
    with open(index, "wb") as handle:
        handle.write(gzip.compress(("\n".join(written) + "\n").encode()))
    return written


LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore "
    "magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo "
    "consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur."
)


def example_pages(count: int = 16, offset: int = 0) -> list[WarcPage]:
    """A crawl-like mix: articles, exact copies on a mirror, near copies, a placeholder page, Latin filler,
    and non-HTML payloads (a PDF and an image)."""
    pages = article_pages(count, offset=offset)
    for original in pages[:3]:  # the same article on a mirror site
        pages.append(WarcPage(original.url.replace("example.org", "mirror.example.net"), original.body))
    for original in pages[3:5]:  # a copy with a different headline and one changed word
        body = original.body.decode("utf-8").replace("Article", "Story", 1).replace(" the ", " that ", 1)
        pages.append(WarcPage(original.url.replace("/articles/", "/stories/"), body.encode("utf-8")))
    pages += [
        WarcPage(f"https://example.org/moved/{offset}", html_page("Moved", ["This page has moved."]).encode()),
        WarcPage(f"https://example.org/lorem/{offset}", html_page("Lorem", [LOREM, LOREM]).encode()),
        WarcPage(f"https://example.org/report-{offset}.pdf", b"%PDF-1.4\n%binary", content_type="application/pdf"),
        WarcPage(f"https://example.org/logo-{offset}.png", b"\x89PNG\r\n\x1a\n", content_type="image/png"),
    ]
    return pages


def write_example_warcs(folder: str, files: int = 2, pages_per_file: int = 16) -> list[str]:
    """The WARC files of `examples/common_crawl.yaml` (see `example_pages`); returns their paths."""
    paths = []
    for n in range(files):
        path = os.path.join(folder, f"example-crawl-{n:05d}.warc.gz")
        write_warc(path, example_pages(pages_per_file, offset=n * pages_per_file))
        paths.append(path)
    return paths
