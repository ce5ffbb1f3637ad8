"""Pipelines that read and write a real S3 API server: writers' guarantees, checkpoints, run reports, secrets."""

from __future__ import annotations

import json
import logging
import os

import pytest

from raycurator.backends.checkpoint import CheckpointStore
from raycurator.backends.local import LocalExecutor
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.stages.base import ProcessingStage
from raycurator.stages.text.filters import ScoreFilter
from raycurator.stages.text.filters.heuristic import WordCountFilter
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.io.writer import JsonlWriter
from raycurator.tasks import DocumentBatch
from raycurator.utils import storage

from .conftest import SECRET

FILES, DOCS = 6, 5


def upload_corpus(s3, bucket: str) -> list[str]:
    """FILES JSONL objects under `in/`; returns the ids a WordCountFilter(min_words=2) keeps."""
    kept = []
    client = s3.client()
    for f in range(FILES):
        rows = [{"id": f"{f}-{d}", "text": " ".join(["word"] * (d + 1))} for d in range(DOCS)]
        kept += [r["id"] for r in rows if len(r["text"].split()) >= 2]
        body = "\n".join(json.dumps(r) for r in rows) + "\n"
        client.put_object(Bucket=bucket, Key=f"in/part-{f}.jsonl", Body=body.encode())
    return sorted(kept)


def output_ids(s3, bucket: str, prefix: str = "out/") -> list[str]:
    ids = []
    for key in s3.keys(bucket, prefix):
        if key.endswith(".jsonl"):
            ids += [json.loads(line)["id"] for line in s3.get(bucket, key).decode().splitlines()]
    return sorted(ids)


class FailOn(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Raises on the task reading `part-<part>` while the file `switch` exists (a failing run, then a fixed one)."""

    name = "fail_on"

    def __init__(self, part: int, switch: str) -> None:
        self.part, self.switch = part, switch

    def process(self, task: DocumentBatch) -> DocumentBatch:
        if os.path.exists(self.switch) and any(f"part-{self.part}." in f for f in task.source_files):
            raise RuntimeError(f"failing on part-{self.part} as asked")
        return task


class CrashAfterWriting(JsonlWriter):
    """A writer whose process dies right after its first write (the executor retries the batch elsewhere)."""

    def __init__(self, path: str, flag: str) -> None:
        super().__init__(path)
        self.flag = flag

    def process(self, task: DocumentBatch):
        written = super().process(task)
        try:
            fd = os.open(self.flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return written
        os.close(fd)
        os._exit(1)  # after the PUT: the retried task writes the same object again


def test_storage_helpers_on_s3(s3_env):
    bucket = s3_env.bucket()
    url = f"s3://{bucket}/a/b/file.json"
    storage.write_atomic(url, b"one")
    assert storage.read_bytes(url) == b"one"
    assert storage.write_if_absent(f"s3://{bucket}/a/b/new", b"x") is True
    assert storage.write_if_absent(f"s3://{bucket}/a/b/new", b"y") is False  # conditional PUT refused
    assert storage.read_bytes(f"s3://{bucket}/a/b/new") == b"x"
    assert storage.list_names(f"s3://{bucket}/a/b") == ["file.json", "new"]
    storage.remove(f"s3://{bucket}/a", recursive=True)
    assert storage.list_names(f"s3://{bucket}/a") == []
    requests = s3_env.requests(bucket)
    assert not [r for r in requests if r[2]], "an object store write must never copy (no rename emulation)"
    assert not [r for r in requests if ".tmp" in r[1]], "no temporary objects on object storage"
    assert storage.redact_url("s3://AKIA:sekrit@bucket/k") == "s3://<redacted>@bucket/k"
    assert "sig" not in storage.redact_url("https://h/k?X-Amz-Signature=abc&x=1").lower().replace("redacted", "")
    assert SECRET not in storage.scrub(f"error talking to S3 with {SECRET}")


def test_pipeline_on_s3_with_checkpoint_and_reports(s3_ray, caplog):
    s3_env = s3_ray
    caplog.set_level(logging.DEBUG)
    bucket = s3_env.bucket()
    expected = upload_corpus(s3_env, bucket)
    stages = [
        *JsonlReader(f"s3://{bucket}/in/", files_per_partition=1).decompose(),
        ScoreFilter(WordCountFilter(min_words=2)),
        JsonlWriter(f"s3://{bucket}/out"),
    ]
    config = {"checkpoint_dir": f"s3://{bucket}/ckpt", "log_dir": f"s3://{bucket}/logs"}
    executor = RayActorPoolExecutor(config=config, show_progress=False)
    results = executor.execute(stages)

    assert output_ids(s3_env, bucket) == expected
    keys = s3_env.keys(bucket, "out/")
    assert all(k == "out/_SUCCESS" or k.endswith(".jsonl") for k in keys), keys  # nothing else is left
    assert len([k for k in keys if k.endswith(".jsonl")]) == FILES
    manifest = json.loads(s3_env.get(bucket, "out/_SUCCESS"))
    assert sorted(f["path"] for f in manifest["files"]) == sorted(k[len("out/") :] for k in keys if k.endswith("l"))
    assert manifest["total_rows"] == len(expected)
    assert all(f.startswith(f"s3://{bucket}/out/") for t in results for f in t.data)
    # writes went straight to their final keys: no temporary object, no copy, at any time
    requests = s3_env.requests(bucket)
    assert not [r for r in requests if r[2]]
    assert not [r for r in requests if ".tmp" in r[1]]
    # the checkpoint and the run folder live on S3 too
    assert len([k for k in s3_env.keys(bucket, "ckpt/done/") if k.endswith(".done")]) == FILES
    report_dir = executor.last_report.log_dir
    assert report_dir.startswith(f"s3://{bucket}/logs/")
    run_keys = s3_env.keys(bucket, report_dir[len(f"s3://{bucket}/") :])
    assert {k.rsplit("/", 1)[1] for k in run_keys} >= {"report.json", "report.html"}
    report = json.loads(s3_env.get(bucket, next(k for k in run_keys if k.endswith("report.json"))))
    assert report["status"] == "succeeded" and report["extra"]["checkpoint"]["partitions_finished"] == FILES
    # the secret (from the standard environment) is nowhere: objects written, logs
    for key in s3_env.keys(bucket):
        if not key.startswith("in/"):
            assert SECRET.encode() not in s3_env.get(bucket, key), key
    assert SECRET not in caplog.text

    # a rerun resumes from the S3 checkpoint: nothing left to do, the output unchanged
    again = RayActorPoolExecutor(config=config, show_progress=False)
    again.execute(stages)
    assert again.last_report.extra["checkpoint"]["partitions_skipped"] == FILES
    assert output_ids(s3_env, bucket) == expected


def test_resume_and_retries_on_s3_leave_no_duplicates(s3_ray, tmp_path):
    s3_env = s3_ray
    bucket = s3_env.bucket()
    expected = upload_corpus(s3_env, bucket)
    switch, flag = tmp_path / "fail", tmp_path / "crashed"
    switch.touch()

    def pipeline() -> list:
        return [
            *JsonlReader(f"s3://{bucket}/in/", files_per_partition=1).decompose(),
            ScoreFilter(WordCountFilter(min_words=2)),
            FailOn(3, str(switch)),
            CrashAfterWriting(f"s3://{bucket}/out", str(flag)),
        ]

    config = {"checkpoint_dir": f"s3://{bucket}/ckpt", "max_task_retries": 3}
    with pytest.raises(Exception, match="failing on part-3"):
        RayActorPoolExecutor(config=config, show_progress=False).execute(pipeline())
    assert flag.exists(), "a writer died after writing and its batch was retried"
    assert not s3_env.keys(bucket, "out/_SUCCESS"), "an unfinished run has no manifest"
    done_first = len([k for k in s3_env.keys(bucket, "ckpt/done/") if k.endswith(".done")])
    assert done_first < FILES

    switch.unlink()
    executor = RayActorPoolExecutor(config=config, show_progress=False)
    executor.execute(pipeline())
    assert executor.last_report.extra["checkpoint"]["partitions_skipped"] == done_first
    # the same ids, each once; the same deterministic object names as a clean run
    assert output_ids(s3_env, bucket) == expected
    data = [k for k in s3_env.keys(bucket, "out/") if k.endswith(".jsonl")]
    clean, local_in = tmp_path / "clean", tmp_path / "local" / "in"  # same folder name: same task ids
    local_in.mkdir(parents=True)
    for key in s3_env.keys(bucket, "in/"):
        (local_in / key.rsplit("/", 1)[1]).write_bytes(s3_env.get(bucket, key))
    LocalExecutor().execute([*JsonlReader(str(local_in), files_per_partition=1).decompose(), JsonlWriter(str(clean))])
    assert sorted(k.rsplit("/", 1)[1] for k in data) == sorted(p.name for p in clean.glob("*.jsonl"))
    manifest = json.loads(s3_env.get(bucket, "out/_SUCCESS"))
    assert sorted(f["path"] for f in manifest["files"]) == sorted(k.rsplit("/", 1)[1] for k in data)
    assert manifest["total_rows"] == len(expected)
    assert not [k for k in s3_env.keys(bucket) if "/.raycurator_run/" in k or ".tmp" in k]


def test_explicit_storage_options_stay_out_of_checkpoints_and_errors(s3_server, tmp_path, monkeypatch):
    """Credentials given as storage_options (not the environment) reach S3 and never the files we write."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    bucket = s3_server.bucket()
    upload_corpus(s3_server, bucket)
    options = {"key": "testing-key-id", "secret": SECRET, "client_kwargs": {"endpoint_url": s3_server.endpoint}}
    stages = [
        *JsonlReader(f"s3://{bucket}/in/", files_per_partition=2, storage_options=options).decompose(),
        JsonlWriter(f"s3://{bucket}/out", storage_options=options),
    ]
    LocalExecutor().execute(stages)
    assert len([k for k in s3_server.keys(bucket, "out/") if k.endswith(".jsonl")]) == FILES // 2
    store = CheckpointStore(f"s3://{bucket}/ckpt", stages, storage_options=options)
    store.record("p0")
    assert SECRET.encode() not in s3_server.get(bucket, "ckpt/manifest.json")
    # a failing run (a bucket that does not exist): neither its error nor its report shows the secret
    failing = [
        *JsonlReader(f"s3://no-such-{bucket}/in/", files_per_partition=2, storage_options=options).decompose(),
        JsonlWriter(f"s3://{bucket}/out2", storage_options=options),
    ]
    executor = LocalExecutor(config={"log_dir": str(tmp_path / "logs")})
    with pytest.raises(Exception) as caught:
        executor.execute(failing)
    assert SECRET not in str(caught.value)
    (report,) = (tmp_path / "logs").glob("*/report.json")
    assert "failed" in report.read_text() and SECRET not in report.read_text()


def test_downloads_into_an_s3_folder_appear_whole_once(s3_env, tmp_path):
    from tests.stages.text.download.conftest import CrawlServer

    from raycurator.stages.text.download.base.download import FsspecDownloader

    bucket = s3_env.bucket()
    site = tmp_path / "site"
    site.mkdir()
    payload = os.urandom(300_000)
    (site / "crawl-0001.warc.gz").write_bytes(payload)
    with CrawlServer(str(site)) as server:
        downloader = FsspecDownloader(f"s3://{bucket}/downloads", chunk_bytes=64 * 1024)
        url = f"{server.url}/crawl-0001.warc.gz"
        assert downloader.download(url) == f"s3://{bucket}/downloads/crawl-0001.warc.gz"
        fetched = server.gets["/crawl-0001.warc.gz"]
        assert downloader.download(url) == f"s3://{bucket}/downloads/crawl-0001.warc.gz"  # already there
        assert server.gets["/crawl-0001.warc.gz"] == fetched  # not fetched again
    assert s3_env.get(bucket, "downloads/crawl-0001.warc.gz") == payload
    assert s3_env.keys(bucket) == ["downloads/crawl-0001.warc.gz"]  # no temporary object, ever:
    assert not [r for r in s3_env.requests(bucket) if ".tmp" in r[1] or r[2]]


def test_local_executor_run_folder_on_s3(s3_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    bucket = s3_env.bucket()
    upload_corpus(s3_env, bucket)
    executor = LocalExecutor(config={"log_dir": f"s3://{bucket}/logs"})
    executor.execute([*JsonlReader(f"s3://{bucket}/in/").decompose(), JsonlWriter(f"s3://{bucket}/out")])
    log_dir = executor.last_report.log_dir
    assert log_dir.startswith(f"s3://{bucket}/logs/")
    report = json.loads(s3_env.get(bucket, log_dir[len(f"s3://{bucket}/") :] + "/report.json"))
    assert report["status"] == "succeeded" and report["log_dir"] == log_dir
    assert list(tmp_path.iterdir()) == []  # nothing written locally under a mangled "s3:" folder


def test_fuzzy_dedup_workflow_with_cache_and_output_on_s3(s3_env):
    from raycurator.stages.deduplication.fuzzy.workflow import FuzzyDeduplicationWorkflow

    bucket = s3_env.bucket()
    words = "the river ran past the old mill where children played every summer afternoon".split()
    rows = [{"id": f"u{i}", "text": " ".join(words[i % 5 :] + words[: i % 5]) + f" story {i} " * 3} for i in range(6)]
    rows += [dict(rows[0], id="copy-a"), dict(rows[1], id="copy-b")]  # exact copies: fuzzy duplicates too
    body = "".join(json.dumps(r) + "\n" for r in rows)
    s3_env.client().put_object(Bucket=bucket, Key="in/docs.jsonl", Body=body.encode())
    workflow = FuzzyDeduplicationWorkflow(
        cache_path=f"s3://{bucket}/cache",
        output_path=f"s3://{bucket}/dedup",
        input_path=f"s3://{bucket}/in/",
        input_filetype="jsonl",
        perform_removal=True,
        id_field="id",
        verify=True,
    )
    result = workflow.run(executor=LocalExecutor())
    assert result.num_duplicates == 2
    assert result.duplicate_ids_path.startswith(f"s3://{bucket}/")
    kept = []
    for key in s3_env.keys(bucket, "dedup/"):
        if key.endswith(".jsonl") and "/deduplicated/" in f"/{key}":
            kept += [json.loads(line)["id"] for line in s3_env.get(bucket, key).decode().splitlines()]
    assert len(kept) == len(rows) - 2 and len(set(kept)) == len(kept)
    assert s3_env.keys(bucket, "cache/"), "the cache (verified duplicate pairs) is on S3"
