"""Downloads: atomic, skipped when complete, retried, resumed after a kill, failures named or ledgered."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from ray import cloudpickle

from raycurator.backends.local import LocalExecutor
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.errors import StageExecutionError
from raycurator.pipeline import Pipeline
from raycurator.stages.text.download import CommonCrawlDownloadExtractStage
from raycurator.stages.text.download.base import DownloadError, FsspecDownloader
from raycurator.stages.text.download.testing import write_crawl
from raycurator.stages.text.io.writer import JsonlWriter
from raycurator.tasks.utils import TaskPerfUtils

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def _stage(server, tmp_path, **kwargs) -> CommonCrawlDownloadExtractStage:
    return CommonCrawlDownloadExtractStage(
        "2024-10", "2024-10", str(tmp_path / "downloads"), html_extraction="resiliparse",
        data_prefix=server.url, index_prefix=server.url, **kwargs,
    )  # fmt: skip


def _warc_gets(server) -> dict[str, int]:
    return {path: n for path, n in server.gets.items() if path.endswith(".warc.gz")}


def test_rerun_downloads_nothing_again(crawl_server, tmp_path):
    written = write_crawl(crawl_server.root, files=2, pages_per_file=2)
    first = Pipeline(name="cc", stages=[_stage(crawl_server, tmp_path)]).run(executor=LocalExecutor())
    assert _warc_gets(crawl_server) == {f"/{path}": 1 for path in written}
    second = Pipeline(name="cc", stages=[_stage(crawl_server, tmp_path)]).run(executor=LocalExecutor())
    assert _warc_gets(crawl_server) == {f"/{path}": 1 for path in written}  # no new download
    rows = [pa.concat_tables([t.to_pyarrow() for t in r]).sort_by("url").to_pylist() for r in (first, second)]
    assert rows[0] == rows[1] and len(rows[0]) == 4
    assert not [name for name in os.listdir(tmp_path / "downloads") if name.endswith(".tmp")]


def test_transient_errors_are_retried(crawl_server, tmp_path):
    written = write_crawl(crawl_server.root, files=1, pages_per_file=2)
    route = "/" + next(iter(written))
    crawl_server.faults.fail_first[route] = 2
    results = Pipeline(name="cc", stages=[_stage(crawl_server, tmp_path)]).run(executor=LocalExecutor())
    assert sum(t.num_items for t in results) == 2
    assert crawl_server.gets[route] == 3


def test_connection_cut_midway_is_resumed_with_a_range_request(crawl_server, tmp_path):
    written = write_crawl(crawl_server.root, files=1, pages_per_file=3)
    relative = next(iter(written))
    source = Path(crawl_server.root, relative).read_bytes()
    assert len(source) > 6000
    crawl_server.faults.cut_at["/" + relative] = 5000  # inside the third block of 2048 bytes
    downloader = FsspecDownloader(str(tmp_path / "dl"), backoff_s=0.05, chunk_bytes=2048)
    path = downloader.download(f"{crawl_server.url}/{relative}")
    assert Path(path).read_bytes() == source
    starts = [int(r[6:].split("-")[0]) for route, r in crawl_server.ranges if route == "/" + relative]
    assert starts.count(0) == 1  # resumed, not restarted


def test_killed_download_leaves_a_partial_file_that_the_rerun_continues(crawl_server, tmp_path):
    written = write_crawl(crawl_server.root, files=1, pages_per_file=3)
    relative = next(iter(written))
    source = Path(crawl_server.root, relative).read_bytes()
    downloader = FsspecDownloader(str(tmp_path / "dl"))
    url = f"{crawl_server.url}/{relative}"
    partial = downloader.output_path(url) + ".tmp"
    Path(partial).write_bytes(source[:1000])  # what a run killed mid-download leaves behind
    assert not os.path.exists(downloader.output_path(url))
    path = downloader.download(url)
    assert Path(path).read_bytes() == source
    assert (f"/{relative}", f"bytes=1000-{len(source) - 1}") in crawl_server.ranges or any(
        r.startswith("bytes=1000-") for _, r in crawl_server.ranges
    )


def test_a_download_that_keeps_failing_names_the_url(crawl_server, tmp_path):
    written = write_crawl(crawl_server.root, files=1, pages_per_file=1)
    route = "/" + next(iter(written))
    crawl_server.faults.always_fail.add(route)
    downloader = FsspecDownloader(str(tmp_path / "dl"), max_retries=2, backoff_s=0.01)
    with pytest.raises(DownloadError, match=route.replace(".", r"\.")):
        downloader.download(crawl_server.url + route)
    assert crawl_server.gets[route] == 3
    missing = crawl_server.url + "/crawl-data/nothing-here.warc.gz"
    with pytest.raises(DownloadError, match="nothing-here"):
        downloader.download(missing)


@pytest.mark.usefixtures("shared_ray")
def test_actor_pool_skips_a_failing_download_to_the_ledger_and_resumes(crawl_server, tmp_path):
    written = write_crawl(crawl_server.root, files=3, pages_per_file=2)
    bad = "/" + sorted(written)[1]
    crawl_server.faults.always_fail.add(bad)
    out, checkpoint = tmp_path / "out", tmp_path / "ckpt"

    def stages():
        stage = _stage(crawl_server, tmp_path)
        stage.downloader.max_retries, stage.downloader.backoff_s = 1, 0.01
        return [*stage.decompose(), JsonlWriter(str(out))]

    config = {"on_error": "skip", "checkpoint_dir": str(checkpoint), "log_dir": str(tmp_path / "runs")}
    executor = RayActorPoolExecutor(config=config, show_progress=False)
    results = executor.execute(stages())
    ledger = Path(executor.last_report.log_dir, "failures.jsonl").read_text().splitlines()
    assert len(ledger) == 1 and bad in json.loads(ledger[0])["message"]
    ids = sorted(json.loads(line)["url"] for p in out.glob("*.jsonl") for line in p.read_text().splitlines())
    assert len(ids) == 4
    assert TaskPerfUtils.collect_stage_metrics(results) is not None

    crawl_server.faults.always_fail.clear()
    before = dict(_warc_gets(crawl_server))
    executor = RayActorPoolExecutor(config=config, show_progress=False)
    executor.execute(stages())
    figures = executor.last_report.extra["checkpoint"]
    assert figures["partitions_skipped"] == 2 and figures["partitions_finished"] == 1
    after = _warc_gets(crawl_server)
    assert {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)} == {bad: 1}
    ids = sorted(json.loads(line)["url"] for p in out.glob("*.jsonl") for line in p.read_text().splitlines())
    assert len(ids) == 6 and len(set(ids)) == 6


def test_local_executor_failure_names_stage_and_url(crawl_server, tmp_path):
    written = write_crawl(crawl_server.root, files=1, pages_per_file=1)
    route = "/" + next(iter(written))
    crawl_server.faults.always_fail.add(route)
    stage = _stage(crawl_server, tmp_path)
    stage.downloader.max_retries, stage.downloader.backoff_s = 0, 0.0
    with pytest.raises((StageExecutionError, DownloadError), match=route.replace(".", r"\.")):
        Pipeline(name="cc", stages=[stage]).run(executor=LocalExecutor())
