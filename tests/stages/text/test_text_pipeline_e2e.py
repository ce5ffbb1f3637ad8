"""End to end on LocalExecutor: read -> modify -> filter -> AddId -> write, twice."""

from __future__ import annotations

import json
import pickle

from raycurator.backends.local import LocalExecutor
from raycurator.pipeline import Pipeline
from raycurator.stages import get_stage_class
from raycurator.stages.text.filters import (
    NonAlphaNumericFilter,
    RepeatedLinesFilter,
    ScoreFilter,
    UrlsFilter,
    WordCountFilter,
)
from raycurator.stages.text.io.reader import JsonlReader, ParquetReader
from raycurator.stages.text.io.writer import JsonlWriter, ParquetWriter
from raycurator.stages.text.modifiers import Modify, NewlineNormalizer, UnicodeReformatter, UrlRemover
from raycurator.stages.text.modules import AddId
from raycurator.tasks import FileGroupTask
from raycurator.tasks.utils import TaskPerfUtils

GOOD = "The quick brown fox jumps over the lazy dog and keeps running far away"  # 14 words


def make_corpus(root) -> dict[str, str]:
    docs = {
        "good": GOOD,
        "good_url": GOOD + " https://example.com/a/very/long/link",
        "short": "too short",
        "symbols": "!!! ### $$$ %%% ^^^ &&& *** ((( ))) ___ +++ === --- ;;; :::",
        "repeated": "\n".join(["same line here"] * 10),
        "decomposed": GOOD.replace("away", "cafe\u0301 away") + "\n\n\n\nend",
    }
    root.mkdir(parents=True)
    items = list(docs.items())
    for index in range(3):
        lines = [json.dumps({"name": name, "text": text, "meta": {"part": index}}) for name, text in items[index::3]]
        (root / f"part-{index}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return docs


def build(input_dir, output_dir, writer=JsonlWriter) -> Pipeline:
    return Pipeline(
        "e2e",
        stages=[
            JsonlReader(str(input_dir)),
            Modify([UnicodeReformatter(normalization="NFC"), NewlineNormalizer(), UrlRemover()]),
            ScoreFilter([WordCountFilter(min_words=10), NonAlphaNumericFilter()], score_field=["words", None]),
            ScoreFilter(RepeatedLinesFilter()),
            ScoreFilter(UrlsFilter()),
            AddId(id_field="doc_id", id_prefix="web"),
            writer(str(output_dir)),
        ],
    )


def read_output(output_dir) -> list[dict]:
    rows = []
    for path in sorted(output_dir.glob("*.jsonl")):
        rows.extend(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    return rows


def test_pipeline_end_to_end_and_stable_reruns(tmp_path):
    make_corpus(tmp_path / "corpus")
    output = tmp_path / "out"
    results = build(tmp_path / "corpus", output).run(LocalExecutor())

    assert all(isinstance(t, FileGroupTask) for t in results)
    assert sorted(t.task_id for t in results) == ["corpus_000000", "corpus_000001", "corpus_000002"]
    for task in results:
        assert task.data == [str(output / f"{task.task_id}.jsonl")]
        assert task.source_files == [str(tmp_path / "corpus" / f"part-{task.task_id[-1]}.jsonl")]

    rows = read_output(output)
    by_name = {row["name"]: row for row in rows}
    assert sorted(by_name) == ["decomposed", "good", "good_url"]
    assert by_name["good_url"]["text"] == GOOD + " "  # URL removed
    assert "caf\u00e9 away\n\nend" in by_name["decomposed"]["text"]  # NFC and newlines normalised
    assert by_name["good"]["words"] == 14.0
    assert by_name["good"]["meta"] == {"part": 0}
    assert by_name["good"]["doc_id"] == "web_corpus_000000_0"

    metrics = TaskPerfUtils.collect_stage_metrics(results)
    first_filter = metrics["ScoreFilter_word_count_alpha_numeric"]
    assert first_filter["custom.documents_in"].sum() == 6
    assert first_filter["custom.removed_by_word_count"].sum() == 1  # "short"
    assert metrics["jsonl_writer"]["custom.rows_written"].sum() == 3

    first_bytes = {p.name: p.read_bytes() for p in output.glob("*.jsonl")}
    build(tmp_path / "corpus", output).run(LocalExecutor())
    assert {p.name: p.read_bytes() for p in output.glob("*.jsonl")} == first_bytes  # same names, same ids


def test_parquet_output_and_reading_it_back(tmp_path):
    make_corpus(tmp_path / "corpus")
    build(tmp_path / "corpus", tmp_path / "pq", writer=ParquetWriter).run(LocalExecutor())
    back = Pipeline("back", stages=[ParquetReader(str(tmp_path / "pq"), files_per_partition=10)]).run(LocalExecutor())
    assert len(back) == 1
    assert sorted(back[0].data["name"].to_pylist()) == ["decomposed", "good", "good_url"]


def test_stages_are_registered_picklable_and_describable(tmp_path):
    pipeline = build(tmp_path / "in", tmp_path / "out")
    for stage in pipeline.build():
        clone = pickle.loads(pickle.dumps(stage))
        assert clone.name == stage.name
        assert get_stage_class(type(stage).__name__) is type(stage)
    for name in ("JsonlReader", "ParquetReader", "JsonlWriter", "ParquetWriter", "AddId", "Modify", "ScoreFilter"):
        assert get_stage_class(name).__name__ == name
    assert "jsonl_reader" in pipeline.describe()
