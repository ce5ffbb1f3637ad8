"""Common Crawl end to end from a local crawl layout served over HTTP on 127.0.0.1."""

from __future__ import annotations

import os

import pyarrow as pa
import pytest

from raycurator.backends.local import LocalExecutor
from raycurator.pipeline import Pipeline
from raycurator.stages.text.download import CommonCrawlDownloadExtractStage
from raycurator.stages.text.download.testing import BOILERPLATE_MARKERS, write_crawl
from raycurator.tasks.utils import TaskPerfUtils


def _stage(server, tmp_path, **kwargs) -> CommonCrawlDownloadExtractStage:
    return CommonCrawlDownloadExtractStage(
        start_snapshot="2024-10",
        end_snapshot="2024-10",
        download_dir=str(tmp_path / "downloads"),
        data_prefix=server.url,
        index_prefix=server.url,
        **kwargs,
    )


def _rows(results) -> list[dict]:
    tables = [task.to_pyarrow() for task in results]
    return pa.concat_tables(tables).to_pylist() if tables else []


@pytest.mark.parametrize("algorithm", ["justext", "resiliparse", "trafilatura"])
def test_crawl_end_to_end_keeps_articles_and_drops_boilerplate(crawl_server, tmp_path, algorithm):
    written = write_crawl(crawl_server.root, snapshot="2024-10", files=2, pages_per_file=3)
    stage = _stage(crawl_server, tmp_path, html_extraction=algorithm)
    results = Pipeline(name="cc", stages=[stage]).run(executor=LocalExecutor())
    rows = _rows(results)
    pages = {page.url: page for pages in written.values() for page in pages}
    assert {row["url"] for row in rows} == set(pages)
    for row in rows:
        page = pages[row["url"]]
        assert row["language"] == "ENGLISH"
        kept = sum(paragraph in row["text"] for paragraph in page.paragraphs)
        assert kept >= len(page.paragraphs) - 1, (algorithm, row["url"])
        assert not [marker for marker in BOILERPLATE_MARKERS if marker in row["text"]]
        assert row["source_id"] == row["file_name"] == os.path.basename(row["source_id"])
        assert len(row["warc_id"]) == 36  # the record's UUID without "<urn:uuid:" and ">"
    metrics = TaskPerfUtils.collect_stage_metrics(results)
    extract_metrics = next(m for name, m in metrics.items() if name.startswith("iterate_extract"))
    assert extract_metrics["custom.records"].sum() == len(rows)


def test_columns_and_types_match_nemo_curator(crawl_server, tmp_path):
    write_crawl(crawl_server.root, files=1, pages_per_file=2)
    results = Pipeline(name="cc", stages=[_stage(crawl_server, tmp_path, html_extraction="resiliparse")]).run(
        executor=LocalExecutor()
    )
    table = pa.concat_tables([task.to_pyarrow() for task in results])
    assert table.column_names == ["url", "warc_id", "source_id", "language", "text", "file_name"]
    assert all(pa.types.is_string(t) for t in table.schema.types)
    frame = results[0].to_pandas()
    assert list(frame.columns) == ["url", "warc_id", "source_id", "language", "text", "file_name"]


def test_limits_and_filename_column(crawl_server, tmp_path):
    write_crawl(crawl_server.root, files=3, pages_per_file=3)
    stage = _stage(crawl_server, tmp_path, html_extraction="resiliparse", url_limit=2, record_limit=1,
                   add_filename_column="warc_file")  # fmt: skip
    rows = _rows(Pipeline(name="cc", stages=[stage]).run(executor=LocalExecutor()))
    assert len(rows) == 2
    assert all(row["warc_file"].endswith(".warc.gz") for row in rows)
    assert len(os.listdir(tmp_path / "downloads")) == 2


def test_news_and_main_snapshot_urls(crawl_server):
    from raycurator.stages.text.download.common_crawl import MainCommonCrawlUrlGenerator, NewsCommonCrawlUrlGenerator

    news = NewsCommonCrawlUrlGenerator("2023-11", "2024-02", data_prefix="http://mirror.test")
    assert news.generate_path_urls() == [
        f"http://mirror.test/crawl-data/CC-NEWS/{month}/warc.paths.gz"
        for month in ("2024/02", "2024/01", "2023/12", "2023/11")
    ]
    with pytest.raises(ValueError, match="YYYY-MM"):
        NewsCommonCrawlUrlGenerator("2023-13", "2024-02")
    with pytest.raises(ValueError, match="after end snapshot"):
        MainCommonCrawlUrlGenerator("2024-10", "2023-10")
    write_crawl(crawl_server.root, snapshot="2024-10", files=2, pages_per_file=1)
    prefixes = {"data_prefix": crawl_server.url, "index_prefix": crawl_server.url}
    main = MainCommonCrawlUrlGenerator("2024-01", "2024-20", **prefixes)
    assert main.generate_path_urls() == [f"{crawl_server.url}/crawl-data/CC-MAIN-2024-10/warc.paths.gz"]
    assert len(main.generate_urls()) == 2
    assert MainCommonCrawlUrlGenerator("2024-11", "2024-20", index_prefix=crawl_server.url).generate_path_urls() == []
