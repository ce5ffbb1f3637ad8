"""The exact and fuzzy workflows end to end on JSONL/Parquet files (LocalExecutor)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dedup_corpus import Corpus, make_corpus

from raycurator.backends.local import LocalExecutor
from raycurator.stages.deduplication.common import CURATOR_DEDUP_ID_STR, DUPLICATE_OF_FIELD
from raycurator.stages.deduplication.exact.hashing import normalize_for_exact_match
from raycurator.stages.deduplication.exact.workflow import ExactDeduplicationWorkflow
from raycurator.stages.deduplication.fuzzy.workflow import FuzzyDeduplicationWorkflow


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return make_corpus(num_originals=150, words_per_doc=200, num_exact=25, num_near=40, num_partial=10, seed=3)


def write_jsonl(corpus: Corpus, directory: Path, num_files: int = 3, with_id: bool = True) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    size = -(-len(corpus.ids) // num_files)
    for k in range(num_files):
        with open(directory / f"part-{k}.jsonl", "w", encoding="utf-8") as handle:
            for doc_id, text in list(zip(corpus.ids, corpus.texts, strict=True))[k * size : (k + 1) * size]:
                record = {"id": doc_id, "text": text, "meta": {"n": len(text)}} if with_id else {"text": text}
                handle.write(json.dumps(record) + "\n")
    return directory


def write_parquet(corpus: Corpus, directory: Path, num_files: int = 2) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    table = corpus.table("id")
    size = -(-table.num_rows // num_files)
    for k in range(num_files):
        pq.write_table(table.slice(k * size, size), directory / f"part-{k}.parquet")
    return directory


def read_ids(files: list[str], column: str) -> pa.Table:
    tables = [pq.read_table(f) for f in files]
    return pa.concat_tables(tables) if tables else pa.table({column: pa.array([], pa.string())})


def read_output(directory: str, filetype: str) -> list[dict]:
    rows: list[dict] = []
    for path in sorted(Path(directory).glob(f"*.{filetype}")):
        if filetype == "jsonl":
            rows.extend(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line)
        else:
            rows.extend(pq.read_table(path).to_pylist())
    return rows


def expected_exact_removals(corpus: Corpus) -> set[str]:
    """Within each class of equal normalised text, every id but the smallest."""
    classes: dict[str, list[str]] = {}
    for doc_id, text in zip(corpus.ids, corpus.texts, strict=True):
        classes.setdefault(normalize_for_exact_match(text), []).append(doc_id)
    return {d for ids in classes.values() for d in sorted(ids)[1:]}


# -- exact ---------------------------------------------------------------------------------------
def test_exact_workflow_removes_exactly_the_injected_copies(tmp_path, corpus):
    src = write_jsonl(corpus, tmp_path / "in")
    workflow = ExactDeduplicationWorkflow(str(tmp_path / "out"), str(src), input_filetype="jsonl", id_field="id",
                                          normalize_text=True, perform_removal=True)
    result = workflow.run(executor=LocalExecutor())
    duplicates = read_ids(result.duplicate_id_files, "id")
    removed = set(duplicates.column("id").to_pylist())
    assert len(corpus.exact_copies) == 25
    # exactly one of each (copy, original) pair goes, the larger id, and nothing else
    assert removed == {max(c, o) for c, o in corpus.exact_copies.items()}
    assert removed == expected_exact_removals(corpus)
    assert result.num_duplicates == 25
    kept_of = dict(zip(duplicates.column("id").to_pylist(), duplicates.column(DUPLICATE_OF_FIELD).to_pylist(),
                       strict=True))
    assert all(kept_of[max(c, o)] == min(c, o) for c, o in corpus.exact_copies.items())
    rows = read_output(result.output_path, "jsonl")
    assert sorted(r["id"] for r in rows) == sorted(set(corpus.ids) - removed)
    assert all(r["meta"] == {"n": len(r["text"])} for r in rows)  # other fields survive
    assert result.output_files and all(Path(f).parent == Path(result.output_path) for f in result.output_files)


def test_exact_workflow_assigns_ids_when_the_input_has_none(tmp_path, corpus):
    src = write_jsonl(corpus, tmp_path / "in", with_id=False)
    result = ExactDeduplicationWorkflow(str(tmp_path / "out"), str(src), input_filetype="jsonl", normalize_text=True,
                                        perform_removal=True).run(executor=LocalExecutor())
    assert result.num_duplicates == 25
    ids = read_ids(result.duplicate_id_files, CURATOR_DEDUP_ID_STR).column(CURATOR_DEDUP_ID_STR).to_pylist()
    assert len(set(ids)) == 25
    rows = read_output(result.output_path, "jsonl")
    assert len(rows) == len(corpus.ids) - 25
    assert all(set(r) == {"text"} for r in rows)  # the assigned id is not written
    normalised = [normalize_for_exact_match(r["text"]) for r in rows]
    assert len(set(normalised)) == len(normalised)
    assert set(normalised) == {normalize_for_exact_match(t) for t in corpus.texts}


def test_exact_identify_only_writes_ids_and_no_data(tmp_path, corpus):
    src = write_parquet(corpus, tmp_path / "in")
    out = tmp_path / "out"
    workflow = ExactDeduplicationWorkflow(str(out), str(src), input_filetype="parquet", id_field="id",
                                          normalize_text=True, cache_path=str(tmp_path / "cache"))
    result = workflow.run(executor=LocalExecutor())
    assert result.output_path is None and result.output_files == []
    assert not (out / "deduplicated").exists()
    assert Path(result.duplicate_ids_path) == tmp_path / "cache" / "ExactDuplicateIds"
    assert set(read_ids(result.duplicate_id_files, "id").column("id").to_pylist()) == expected_exact_removals(corpus)


def test_exact_parquet_round_trip_and_rerun_rules(tmp_path, corpus):
    src = write_parquet(corpus, tmp_path / "in")
    out = tmp_path / "out"
    options = {"input_filetype": "parquet", "id_field": "id", "normalize_text": True, "perform_removal": True}
    first = ExactDeduplicationWorkflow(str(out), str(src), **options).run(executor=LocalExecutor())
    rows = read_output(first.output_path, "parquet")
    assert len(rows) == len(corpus.ids) - 25
    with pytest.raises(FileExistsError, match="overwrite=True"):
        ExactDeduplicationWorkflow(str(out), str(src), **options).run(executor=LocalExecutor())
    again = ExactDeduplicationWorkflow(str(out), str(src), **options, overwrite=True).run(executor=LocalExecutor())
    assert read_output(again.output_path, "parquet") == rows


def test_exact_workflow_without_duplicates(tmp_path):
    corpus = Corpus(ids=["a", "b", "c"], texts=["one", "two", "three"])
    src = write_jsonl(corpus, tmp_path / "in", num_files=1)
    result = ExactDeduplicationWorkflow(str(tmp_path / "out"), str(src), input_filetype="jsonl", id_field="id",
                                        perform_removal=True).run(executor=LocalExecutor())
    assert result.num_duplicates == 0 and result.duplicate_id_files == []
    assert sorted(r["id"] for r in read_output(result.output_path, "jsonl")) == ["a", "b", "c"]


# -- fuzzy -------------------------------------------------------------------------------------------
def test_fuzzy_workflow_end_to_end(tmp_path, corpus):
    src = write_jsonl(corpus, tmp_path / "in")
    workflow = FuzzyDeduplicationWorkflow(str(tmp_path / "cache"), str(tmp_path / "out"), str(src),
                                          input_filetype="jsonl", perform_removal=True, id_field="id", verify=True)
    result = workflow.run(executor=LocalExecutor())
    duplicates = read_ids(result.duplicate_id_files, "id")
    kept = dict(zip(duplicates.column("id").to_pylist(), duplicates.column(DUPLICATE_OF_FIELD).to_pylist(),
                    strict=True))
    rep = lambda doc: kept.get(doc, doc)  # noqa: E731
    recall = sum(rep(a) == rep(b) for a, b in corpus.near_pairs) / len(corpus.near_pairs)
    assert recall >= 0.95
    assert all(rep(c) == rep(o) for c, o in corpus.exact_copies.items())
    assert not any(rep(a) == rep(b) for a, b in corpus.partial_pairs)
    rows = read_output(result.output_path, "jsonl")
    assert sorted(r["id"] for r in rows) == sorted(set(corpus.ids) - set(kept))
    pairs = pq.read_table(tmp_path / "cache" / "FuzzyDuplicatePairs" / "pairs.parquet")
    assert pairs.num_rows > 0 and min(pairs.column("_jaccard").to_pylist()) >= 0.8


def test_fuzzy_workflow_identify_only_and_deterministic(tmp_path, corpus):
    src = write_jsonl(corpus, tmp_path / "in", with_id=False)
    results = [
        FuzzyDeduplicationWorkflow(str(tmp_path / f"cache{k}"), str(tmp_path / f"out{k}"), str(src),
                                   input_filetype="jsonl").run(executor=LocalExecutor())
        for k in range(2)
    ]
    assert all(r.output_files == [] for r in results)
    assert not (tmp_path / "out0" / "deduplicated").exists()
    tables = [read_ids(r.duplicate_id_files, CURATOR_DEDUP_ID_STR) for r in results]
    assert tables[0].num_rows >= len(corpus.exact_copies) + 0.95 * len(corpus.near_pairs) - 5
    assert tables[0].equals(tables[1])
    assert [Path(f).name for f in results[0].duplicate_id_files] == [
        Path(f).name for f in results[1].duplicate_id_files
    ]


def test_fuzzy_workflow_parquet_without_verification(tmp_path, corpus):
    src = write_parquet(corpus, tmp_path / "in")
    result = FuzzyDeduplicationWorkflow(str(tmp_path / "cache"), str(tmp_path / "out"), str(src),
                                        input_filetype="parquet", perform_removal=True, output_filetype="jsonl",
                                        id_field="id").run(executor=LocalExecutor())
    assert not (tmp_path / "cache" / "FuzzyDuplicatePairs").exists()  # pairs are verified (and kept) only on ask
    rows = read_output(result.output_path, "jsonl")
    assert len(rows) == len(corpus.ids) - result.num_duplicates
    assert result.num_duplicates >= len(corpus.exact_copies)
