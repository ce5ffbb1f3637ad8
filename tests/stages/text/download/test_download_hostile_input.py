"""Hostile WARC input never kills or hangs a run: each bad record is skipped and counted by reason."""

from __future__ import annotations

import gzip
import sys
import time
import zlib

import pyarrow as pa
import pytest
from ray import cloudpickle

from raycurator.backends.local import LocalExecutor
from raycurator.pipeline import Pipeline
from raycurator.stages.text.download import WarcReader
from raycurator.stages.text.download.common_crawl.warc_iterator import CommonCrawlWarcIterator
from raycurator.stages.text.download.html_extractors import HTMLExtractorAlgorithm
from raycurator.stages.text.download.testing import WarcPage, article_pages, write_warc
from raycurator.tasks.utils import TaskPerfUtils

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _members(path) -> list[bytes]:
    """The gzip members of a WARC file written by `write_warc` (one per record)."""
    rest = path.read_bytes()
    members = []
    while rest:
        decompressor = zlib.decompressobj(31)
        decompressor.decompress(rest)
        used = len(rest) - len(decompressor.unused_data)
        members.append(rest[:used])
        rest = rest[used:]
    return members


def _run(paths, **kwargs) -> tuple[list[dict], dict[str, float]]:
    reader = WarcReader(file_paths=[str(p) for p in paths], html_extraction="resiliparse", **kwargs)
    results = Pipeline(name="hostile", stages=[reader]).run(executor=LocalExecutor())
    rows = pa.concat_tables([t.to_pyarrow() for t in results]).to_pylist() if results else []
    metrics = TaskPerfUtils.collect_stage_metrics(results)
    custom = {k: float(v.sum()) for m in metrics.values() for k, v in m.items() if k.startswith("custom.")}
    return rows, custom


def _urls(rows) -> list[str]:
    return sorted(int(r["url"].rsplit("/", 1)[1]) for r in rows)


@pytest.fixture
def warc(tmp_path):
    path = tmp_path / "good.warc.gz"
    write_warc(str(path), article_pages(5))
    return path


def test_truncated_file_keeps_complete_records(warc, tmp_path):
    members = _members(warc)  # warcinfo, then request + response per page
    bad = tmp_path / "truncated.warc.gz"
    bad.write_bytes(b"".join(members[:8]) + members[8][: len(members[8]) // 2])  # page 3's response cut
    rows, metrics = _run([bad])
    assert _urls(rows) == [0, 1, 2]
    assert metrics["custom.skipped.corrupt_record"] == 1


def test_corrupt_gzip_member_is_skipped_and_reading_goes_on(warc, tmp_path):
    members = _members(warc)
    broken = bytearray(members[4])  # page 1's response
    broken[20:60] = b"\x00" * 40
    bad = tmp_path / "corrupt.warc.gz"
    bad.write_bytes(b"".join(members[:4]) + bytes(broken) + b"".join(members[5:]))
    rows, metrics = _run([bad])
    assert _urls(rows) == [0, 2, 3, 4]
    assert metrics["custom.skipped.corrupt_record"] == 1


def test_bad_warc_headers_and_lengths_are_skipped(warc, tmp_path):
    members = _members(warc)
    header = gzip.decompress(members[2]).replace(b"WARC/1.", b"WURC/9.", 1)  # page 0's response
    length = gzip.decompress(members[6]).replace(b"Content-Length: ", b"Content-Length: 9", 1)  # page 2
    bad = tmp_path / "headers.warc.gz"
    bad.write_bytes(b"".join([*members[:2], gzip.compress(header), *members[3:6], gzip.compress(length), *members[7:]]))
    rows, metrics = _run([bad])
    assert _urls(rows) == [1, 3, 4]
    assert metrics["custom.skipped.corrupt_record"] == 2


def test_non_html_undecodable_and_oversized_payloads_are_counted(tmp_path):
    pages = article_pages(2)
    binary = bytes((i * 37 + 11) % 256 for i in range(5000))  # no charset decodes it
    huge = article_pages(1, paragraphs_per_page=400, offset=7)[0]
    pages += [
        WarcPage("https://example.org/logo.png", b"\x89PNG\r\n\x1a\n" + binary, content_type="image/png"),
        WarcPage("https://example.org/paper.pdf", b"%PDF-1.4 " + binary, content_type="application/pdf"),
        WarcPage("https://example.org/garbage", binary),
        WarcPage(huge.url, huge.body),
    ]
    path = tmp_path / "mixed.warc.gz"
    write_warc(str(path), pages)
    assert len(huge.body) > 100_000
    rows, metrics = _run([path], max_content_bytes=100_000)
    assert _urls(rows) == [0, 1]
    assert metrics["custom.skipped.not_html"] == 2
    assert metrics["custom.skipped.undecodable"] == 1
    assert metrics["custom.skipped.too_large"] == 1
    assert metrics["custom.records"] == 2


def test_uncompressed_warc_files_are_read(tmp_path):
    path = tmp_path / "plain.warc"
    write_warc(str(path), article_pages(3), compress=False)
    rows, _ = _run([path])
    assert _urls(rows) == [0, 1, 2]


def test_iterator_alone_counts_and_continues(warc, tmp_path):
    members = _members(warc)
    bad = tmp_path / "cut.warc.gz"
    bad.write_bytes(b"".join(members[:5]) + members[5][:10] + b"".join(members[6:]))  # page 2's request cut
    iterator = CommonCrawlWarcIterator()
    urls = [record["url"] for record in iterator.iterate(str(bad))]
    assert urls == [f"https://example.org/articles/{i}" for i in range(5)]  # responses all intact
    assert iterator.consume_skips() == {"corrupt_record": 1}


def _slow_table_page() -> bytes:
    rows = '<tr><td><a href="/x">cell</a></td><td>the of and</td></tr>' * 12000
    return f"<html><body><p>Slow page.</p><table>{rows}</table></body></html>".encode()


def test_pathological_html_is_cut_off_by_the_time_limit(tmp_path):
    """A big link table takes jusText seconds; the per-record limit skips it in well under that."""
    path = tmp_path / "slow.warc.gz"
    write_warc(str(path), [*article_pages(2), WarcPage("https://example.org/slow", _slow_table_page())])
    reader = WarcReader(file_paths=[str(path)], html_extraction="justext", record_timeout_s=0.3)
    started = time.monotonic()
    results = Pipeline(name="slow", stages=[reader]).run(executor=LocalExecutor())
    elapsed = time.monotonic() - started
    rows = pa.concat_tables([t.to_pyarrow() for t in results]).to_pylist()
    metrics = TaskPerfUtils.collect_stage_metrics(results)
    custom = {k: float(v.sum()) for m in metrics.values() for k, v in m.items() if k.startswith("custom.")}
    assert _urls(rows) == [0, 1]
    assert custom["custom.skipped.timeout"] == 1
    assert elapsed < 2.5, elapsed


class NeverEndingExtractor(HTMLExtractorAlgorithm):
    """A user algorithm that loops forever on pages mentioning 'trap'."""

    def extract_text(self, html: str, stop_words: frozenset[str], language: str) -> list[str] | None:
        while "trap" in html:
            pass
        return [html[:50]]


def test_injected_endless_extractor_is_bounded(tmp_path):
    body = b"<html><body><p>This page is a trap for the extractor.</p></body></html>"
    trap = WarcPage("https://example.org/trap", body)
    path = tmp_path / "trap.warc.gz"
    write_warc(str(path), [*article_pages(1), trap])
    reader = WarcReader(file_paths=[str(path)], html_extraction=NeverEndingExtractor(), record_timeout_s=0.2)
    results = Pipeline(name="trap", stages=[reader]).run(executor=LocalExecutor())
    metrics = TaskPerfUtils.collect_stage_metrics(results)
    custom = {k: float(v.sum()) for m in metrics.values() for k, v in m.items() if k.startswith("custom.")}
    assert custom == {"custom.records": 1.0, "custom.skipped.timeout": 1.0}


@pytest.mark.usefixtures("shared_ray")
def test_time_limit_and_skip_counts_hold_in_ray_actors(warc, tmp_path):
    from raycurator.backends.ray_actor_pool import RayActorPoolExecutor

    body = b"<html><body><p>This page is a trap for the extractor.</p></body></html>"
    path = tmp_path / "trap.warc.gz"
    write_warc(str(path), [*article_pages(2), WarcPage("https://example.org/trap", body)])
    members = _members(warc)
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(b"".join(members[:8]) + members[8][:40])  # pages 0-2, then a truncated response
    reader = WarcReader(file_paths=[str(path), str(cut)], html_extraction=NeverEndingExtractor(), record_timeout_s=0.5)
    executor = RayActorPoolExecutor(config={"log_dir": str(tmp_path / "runs")}, show_progress=False)
    results = executor.execute(reader.decompose())
    metrics = TaskPerfUtils.collect_stage_metrics(results)
    custom = {k: float(v.sum()) for m in metrics.values() for k, v in m.items() if k.startswith("custom.")}
    assert custom == {"custom.records": 5.0, "custom.skipped.timeout": 1.0, "custom.skipped.corrupt_record": 1.0}


def test_gzip_magic_bytes_by_chance_are_not_records(warc, tmp_path):
    """Junk after the last record (starting like a gzip header) loses nothing and counts once; a member
    cut just after its header is a lost record."""
    members = _members(warc)
    noisy = tmp_path / "noisy.warc.gz"
    noisy.write_bytes(b"".join(members) + b"\x1f\x8b\x08\xff" + bytes(range(200)))
    iterator = CommonCrawlWarcIterator()
    assert len(list(iterator.iterate(str(noisy)))) == 5
    assert iterator.consume_skips() == {"corrupt_record": 1}
    cut = tmp_path / "cut-early.warc.gz"
    cut.write_bytes(b"".join(members[:-1]) + members[-1][:30])
    assert len(list(iterator.iterate(str(cut)))) == 4
    assert iterator.consume_skips() == {"corrupt_record": 1}
