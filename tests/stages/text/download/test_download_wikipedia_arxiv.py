"""Wikipedia dumps and arXiv source tarballs, from HTTP (127.0.0.1) and local files."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import tarfile
from pathlib import Path
from xml.sax.saxutils import escape

import pyarrow as pa

from raycurator.backends.local import LocalExecutor
from raycurator.pipeline import Pipeline
from raycurator.stages.text.download import ArxivDownloadExtractStage, WikipediaDownloadExtractStage
from raycurator.stages.text.download.arxiv.iterator import format_arxiv_id
from raycurator.stages.text.download.testing import prose_paragraphs
from raycurator.stages.text.download.wikipedia import WikipediaUrlGenerator
from raycurator.tasks.utils import TaskPerfUtils

PROSE = prose_paragraphs()


def _page(title: str, ns: int, page_id: int, text: str, redirect: bool = False) -> str:
    return (
        f"<page><title>{escape(title)}</title><ns>{ns}</ns><id>{page_id}</id>"
        + ('<redirect title="Heap" />' if redirect else "")
        + f'<revision><id>{page_id}0</id><text xml:space="preserve">{escape(text)}</text></revision></page>'
    )


ARTICLE = (
    "__NOTOC__\n{{Infobox data structure|name=Heap}}\n"
    f"'''Heaps''' are [[array (data structure)|arrays]]. {PROSE[0]}<ref>Knuth, vol. 3</ref>\n"
    "[[File:Heap.svg|thumb|A heap drawn as a tree]]\n"
    f"== Uses ==\n{PROSE[4]}\n"
    '{| class="wikitable"\n|-\n| cell one || cell two\n|}\n'
    "[[Category:Data structures]]\n"
)


def _dump() -> bytes:
    pages = [
        _page("Heap (data structure)", 0, 1, ARTICLE),
        _page("Heap", 0, 2, "#REDIRECT [[Heap (data structure)]]", redirect=True),
        _page("Talk:Heap", 1, 3, "Is this right?"),
        _page("Shelf", 0, 4, f"A '''shelf''' stores objects. {PROSE[9]}"),
    ]
    xml = '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/">' + "".join(pages) + "</mediawiki>"
    return bz2.compress(xml.encode("utf-8"))


def _wiki_site(root: Path) -> str:
    name = "enwiki-20240101-pages-articles-multistream1.xml-p1p41242.bz2"
    for date, status in (("20240101", "done"), ("20240201", "in-progress")):
        folder = root / "enwiki" / date
        folder.mkdir(parents=True)
        files = {name: {"size": 1}, name.replace(".xml", "-index.txt"): {"size": 1}}
        jobs = {"articlesmultistreamdump": {"status": status, "files": files}}
        (folder / "dumpstatus.json").write_text(json.dumps({"jobs": jobs}))
    (root / "enwiki" / "20240101" / name).write_bytes(_dump())
    (root / "enwiki" / "index.html").write_text('<a href="20240101/">20240101/</a> <a href="20240201/">20240201/</a>')
    return name


def _rows(results) -> list[dict]:
    return pa.concat_tables([t.to_pyarrow() for t in results]).to_pylist()


def test_wikipedia_latest_finished_dump_over_http(crawl_server, tmp_path):
    name = _wiki_site(Path(crawl_server.root))
    stage = WikipediaDownloadExtractStage(
        language="en", download_dir=str(tmp_path / "dl"), dump_date="20240101", wikidumps_index_prefix=crawl_server.url
    )
    results = Pipeline(name="wiki", stages=[stage]).run(executor=LocalExecutor())
    rows = sorted(_rows(results), key=lambda r: r["id"])
    assert [r["title"] for r in rows] == ["Heap (data structure)", "Shelf"]
    assert list(rows[0]) == ["text", "title", "id", "url", "language", "source_id", "file_name"]
    heap = rows[0]
    assert PROSE[0] in heap["text"] and PROSE[4] in heap["text"]
    assert "Heaps are arrays." in heap["text"]
    assert "Uses" in heap["text"] and "Data structures" in heap["text"]
    for junk in ("Knuth", "Heap.svg", "thumb", "cell one", "NOTOC", "Infobox", "Category:", "[[", "'''"):
        assert junk not in heap["text"], junk
    assert heap["url"] == "https://en.wikipedia.org/wiki/Heap%20%28data%20structure%29"
    assert heap["source_id"] == f"enwiki-20240101-{name}"
    metrics = TaskPerfUtils.collect_stage_metrics(results)
    custom = {k: float(v.sum()) for m in metrics.values() for k, v in m.items() if k.startswith("custom.")}
    assert custom["custom.skipped.not_article"] == 2


def test_wikipedia_newest_finished_dump_is_found(crawl_server):
    name = _wiki_site(Path(crawl_server.root))
    urls = WikipediaUrlGenerator("en", None, crawl_server.url).generate_urls()
    assert urls == [f"{crawl_server.url}/enwiki/20240101/{name}"]  # 20240201 is not finished; no index files


def test_wikipedia_local_dump_file(tmp_path):
    dump = tmp_path / "enwiki-pages-articles.xml.bz2"
    dump.write_bytes(_dump())
    stage = WikipediaDownloadExtractStage(download_dir=str(tmp_path / "dl"), dump_files=[str(dump)], record_limit=1)
    rows = _rows(Pipeline(name="wiki", stages=[stage]).run(executor=LocalExecutor()))
    assert [r["title"] for r in rows] == ["Heap (data structure)"]
    assert not list((tmp_path / "dl").iterdir())  # a local dump is read in place


MAIN_TEX = r"""\documentclass{article}
\newcommand{\heap}{binary heap}
\def\cpu{processor}
\begin{document}
\maketitle
\begin{abstract}An abstract that is dropped with the preamble.\end{abstract}
\section{Introduction}
% a comment line that goes away
A \heap{} keeps its smallest item first. PROSE0 % and a trailing comment
\input{method}
\appendix
\section{Proofs}
Appendix text is dropped.
\end{document}
"""
METHOD_TEX = r"""\subsection{Method}
Each \cpu\ runs the same loop. PROSE1
\bibliography{refs}
"""


def _gz_tar(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _arxiv_tarball(path: Path) -> None:
    papers = {
        "2301.00001.gz": _gz_tar(
            {"main.tex": MAIN_TEX.replace("PROSE0", PROSE[2]), "method.tex": METHOD_TEX.replace("PROSE1", PROSE[3])}
        ),
        "hep-th0101001.gz": gzip.compress(f"\\section{{Only}}\n{PROSE[5]}\n".encode()),
        "2301.00003.gz": b"this is not gzip data",
    }
    with tarfile.open(path, "w") as tar:
        for name, data in papers.items():
            info = tarfile.TarInfo(f"2301/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_arxiv_from_http_tarball(crawl_server, tmp_path):
    _arxiv_tarball(Path(crawl_server.root, "arXiv_src_2301_001.tar"))
    stage = ArxivDownloadExtractStage(
        download_dir=str(tmp_path / "dl"), tar_urls=[f"{crawl_server.url}/arXiv_src_2301_001.tar"]
    )
    results = Pipeline(name="arxiv", stages=[stage]).run(executor=LocalExecutor())
    rows = _rows(results)
    assert list(rows[0]) == ["text", "file_name"]
    texts = sorted(r["text"] for r in rows)
    assert len(texts) == 2
    paper = next(t for t in texts if "Introduction" in t)
    assert paper.startswith("\\section{Introduction}") or paper.startswith("\\subsection{Method}")
    assert "binary heap" in paper and "processor" in paper and PROSE[2] in paper and PROSE[3] in paper
    for junk in ("comment", "documentclass", "abstract", "Appendix text", "bibliography", "\\heap", "\\cpu"):
        assert junk not in paper, junk
    assert any(PROSE[5] in t for t in texts)
    metrics = TaskPerfUtils.collect_stage_metrics(results)
    custom = {k: float(v.sum()) for m in metrics.values() for k, v in m.items() if k.startswith("custom.")}
    assert custom["custom.skipped.corrupt_record"] == 1
    assert (tmp_path / "dl" / "arXiv_src_2301_001.tar").exists()


def test_arxiv_ids():
    assert format_arxiv_id("hep-th0101001") == "hep-th/0101001"
    assert format_arxiv_id("2301.00001") == "2301.00001"
