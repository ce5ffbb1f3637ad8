"""NGramDecontaminator: planted benchmark passages are found despite case/whitespace changes; clean text stays."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.pipeline import Pipeline
from raycurator.stages.text.decontamination import NGramDecontaminator
from raycurator.stages.text.decontamination.index import load_index
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.io.writer import JsonlWriter
from raycurator.tasks import DocumentBatch
from raycurator.tasks.utils import TaskPerfUtils

ROOT = Path(__file__).resolve().parents[4]

# Two small "benchmarks" (human-written passages: Python's documentation style prose and a license).
QA = [
    {"question": "Which planet in the solar system has the longest day, counting the time it takes to rotate "
                 "once on its axis relative to the distant stars?", "answer": "Venus"},
    {"question": "In the novel by Herman Melville, what is the name of the ship whose captain pursues the white "
                 "whale across the oceans of the world?", "answer": "The Pequod"},
    {"question": "Short one?", "answer": "no"},
]  # fmt: skip
LICENSE_TASK = [
    {"text": "THE SOFTWARE IS PROVIDED AS IS, WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT "
             "LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT."},
]  # fmt: skip


def clean_texts() -> list[str]:
    """Human-written paragraphs from this repository's docs, plus the generated sample corpus."""
    paragraphs = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        paragraphs += [p for p in path.read_text(encoding="utf-8").split("\n\n") if len(p.split()) >= 20]
    sample = ROOT / "examples" / "data" / "sample.jsonl"
    paragraphs += [json.loads(line)["text"] for line in sample.read_text(encoding="utf-8").splitlines()[:60]]
    return paragraphs


@pytest.fixture
def eval_files(tmp_path) -> dict[str, str]:
    qa, lic = tmp_path / "trivia.jsonl", tmp_path / "license_eval.jsonl"
    qa.write_text("\n".join(json.dumps(r) for r in QA) + "\n", encoding="utf-8")
    lic.write_text("\n".join(json.dumps(r) for r in LICENSE_TASK) + "\n", encoding="utf-8")
    return {"trivia": str(qa), "license_eval": str(lic)}


def disguise(passage: str) -> str:
    """Case, whitespace and punctuation changes."""
    words = passage.split()
    out = []
    for i, word in enumerate(words):
        word = word.upper() if i % 3 == 0 else word.lower()
        out.append(word.strip(",.?") + ("," if i % 5 == 4 else ""))
    return "  \n ".join(" ".join(out[i : i + 4]) for i in range(0, len(out), 4))


def test_planted_passages_are_found_and_clean_text_is_left_alone(tmp_path, eval_files):
    stage = NGramDecontaminator(eval_files, eval_text_fields=["question", "text"], index_dir=str(tmp_path / "idx"),
                                tasks_field="contaminated_by")  # fmt: skip
    stage.setup()
    clean = clean_texts()
    assert len(clean) > 80
    planted = {
        "qa0": clean[0] + "\n" + disguise(QA[0]["question"]) + "\n" + clean[1],
        "qa1_part": clean[2] + " " + " ".join(QA[1]["question"].split()[3:17]) + " " + clean[3],  # 14 words
        "lic": disguise(LICENSE_TASK[0]["text"]),
        "near": clean[4] + " " + " ".join(QA[1]["question"].split()[:11]),  # 11 words: below 13
    }
    for name, text in planted.items():
        ranges, _tasks, _ = stage.matches(text)
        assert bool(ranges) is (name != "near"), name
    assert stage.matches(planted["qa0"])[1] == {"trivia"} and stage.matches(planted["lic"])[1] == {"license_eval"}
    assert all(stage.matches(text)[0] == [] for text in clean)  # no clean paragraph is touched

    texts = clean[:20] + list(planted.values())
    out = stage.process(DocumentBatch(task_id="b", dataset_name="d", data=pa.table({"text": texts})))
    kept = out.to_pyarrow().to_pylist()
    assert [row["text"] for row in kept] == [*clean[:20], planted["near"]]
    assert all(row["contaminated_by"] == [] for row in kept)
    metrics = stage._consume_custom_metrics()
    assert metrics["documents_removed"] == 3 and metrics["hits.trivia"] == 2 and metrics["hits.license_eval"] == 1


def test_cut_mode_removes_the_span_with_a_margin_and_keeps_the_rest(tmp_path, eval_files):
    clean = clean_texts()
    stage = NGramDecontaminator(eval_files, eval_text_fields=["question"], action="cut", cut_margin_chars=10,
                                min_fragment_chars=30, index_dir=str(tmp_path / "idx"), tasks_field="hit")  # fmt: skip
    doc = clean[5] + "\n\n" + disguise(QA[0]["question"]) + "\n\n" + clean[6]
    out = stage.process(DocumentBatch(task_id="c", dataset_name="d", data=pa.table({"text": [doc, "tiny"]})))
    rows = out.to_pyarrow().to_pylist()
    text = rows[0]["text"]
    assert rows[0]["hit"] == ["trivia"] and rows[1] == {"text": "tiny", "hit": []}
    assert stage.matches(text)[0] == [] and len(text) < len(doc)
    assert clean[5][:-10].strip() in text and clean[6][10:].strip() in text
    # too many cuts: the document goes
    many = " filler words here. ".join(QA[0]["question"] for _ in range(4))
    strict = NGramDecontaminator(eval_files, eval_text_fields=["question"], action="cut", max_splits=0,
                                 index_dir=str(tmp_path / "idx"))  # fmt: skip
    assert strict.process(DocumentBatch(task_id="m", dataset_name="d", data=pa.table({"text": [many]}))) is None


def test_index_is_built_once_memory_mapped_and_keyed_by_content(tmp_path, eval_files, caplog):
    index_dir = tmp_path / "idx"
    first = NGramDecontaminator(eval_files, eval_text_fields=["question"], index_dir=str(index_dir))
    first.setup_on_node()
    folders = list(index_dir.iterdir())
    assert len(folders) == 1 and not any(p.name.startswith(".") for p in folders)
    stamp = (folders[0] / "hashes.npy").stat().st_mtime_ns
    second = NGramDecontaminator(eval_files, eval_text_fields=["question"], index_dir=str(index_dir))
    second.setup()  # another worker on the node: maps the same files, builds nothing
    assert (folders[0] / "hashes.npy").stat().st_mtime_ns == stamp and len(list(index_dir.iterdir())) == 1
    assert isinstance(second.index.hashes, np.memmap) and second.index.path == str(folders[0])
    assert "texts have fewer than 8 words" in caplog.text  # "Short one?" is not indexed, and says so
    assert "_index" not in {k for k, v in second.__getstate__().items() if v is not None}

    Path(eval_files["trivia"]).write_text(json.dumps({"question": "A completely different question about the "
                                                      "moons of Jupiter and how many of them there are today"}) + "\n")
    changed = NGramDecontaminator(eval_files, eval_text_fields=["question"], index_dir=str(index_dir))
    changed.setup()
    assert len(list(index_dir.iterdir())) == 2 and changed.matches(QA[0]["question"])[0] == []
    assert load_index(changed.index.path).sizes == [13]


def test_bad_evaluation_file_is_named_with_its_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "fine line with enough words to be indexed as one n gram ok"}\n{oops\n', encoding="utf-8")
    stage = NGramDecontaminator([str(bad)], index_dir=str(tmp_path / "idx"))
    with pytest.raises(ValueError, match=re.escape(f"{bad} line 2: not JSON")):
        stage.setup()
    with pytest.raises(ValueError, match="action must be one of"):
        NGramDecontaminator([str(bad)], action="drop")
    assert not [p for p in (tmp_path / "idx").iterdir()]  # nothing half-built left behind


def test_pipeline_on_ray_shares_one_index_per_node(tmp_path, eval_files, shared_ray):
    clean = clean_texts()
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for part in range(4):
        rows = [{"text": t} for t in clean[part * 10 : part * 10 + 10]]
        rows.append({"text": clean[50 + part] + " " + disguise(QA[part % 2]["question"])})
        (corpus / f"p{part}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    index_dir = tmp_path / "idx"
    stages = [
        JsonlReader(str(corpus)),
        NGramDecontaminator(eval_files, eval_text_fields=["question"], index_dir=str(index_dir)),
        JsonlWriter(str(tmp_path / "out")),
    ]
    results = Pipeline("decon", stages=stages).run(RayActorPoolExecutor())
    metrics = TaskPerfUtils.collect_stage_metrics(results)["ngram_decontaminator"]
    assert metrics["custom.documents_removed"].sum() == 4 and metrics["custom.hits.trivia"].sum() == 4
    kept = [json.loads(line)["text"] for p in (tmp_path / "out").glob("*.jsonl") for line in p.open()]
    assert sorted(kept) == sorted(clean[:40])
    assert len(os.listdir(index_dir)) == 1  # one index on the node, no staging copies left
