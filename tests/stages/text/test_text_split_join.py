"""DocumentSplitter and DocumentJoiner: NeMo Curator's behaviour, round trips on real text."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from raycurator.stages.text.modules import AddId, DocumentJoiner, DocumentSplitter
from raycurator.tasks import DocumentBatch

REAL_TEXT = Path(__file__).parent / "real_text"


def batch(table: pa.Table) -> DocumentBatch:
    return DocumentBatch(task_id="sj", dataset_name="d", data=table)


def test_splitter_numbers_segments_and_repeats_other_columns():
    out = DocumentSplitter("\n\n").process(batch(pa.table({"id": [7, 8], "text": ["a\n\nb\n\nc", "only"]})))
    assert out.data["text"].to_pylist() == ["a", "b", "c", "only"]
    assert out.data["segment_id"].to_pylist() == [0, 1, 2, 0]
    assert out.data["id"].to_pylist() == [7, 7, 7, 8]
    with pytest.raises(ValueError, match="separator"):
        DocumentSplitter("")


def test_split_then_join_restores_real_documents():
    texts = [(REAL_TEXT / name).read_text(encoding="utf-8") for name in ("yarl_LICENSE_apache2.txt", "idna_LICENSE.md")]
    with_ids = AddId(id_field="id").process(batch(pa.table({"text": texts, "source": ["yarl", "idna"]})))
    split = DocumentSplitter("\n\n").process(with_ids)
    assert split.data.num_rows == sum(t.count("\n\n") + 1 for t in texts)
    shuffled = batch(split.data.take(pa.array(list(range(split.data.num_rows))[::-1])))
    joined = DocumentJoiner().process(shuffled).data
    assert joined["text"].to_pylist() == texts
    assert joined["source"].to_pylist() == ["yarl", "idna"]
    assert "segment_id" not in joined.column_names


def test_joiner_with_max_length_packs_segments():
    table = pa.table(
        {"id": [1, 1, 1, 1], "segment_id": [0, 1, 2, 3], "text": ["aa", "bb", "cccc", "d"], "n": [2, 2, 4, 1]}
    )
    joiner = DocumentJoiner(separator="|", max_length=5, length_field="n", drop_segment_id_field=False)
    out = joiner.process(batch(table)).data
    # 2+2+1 = 5 fits; "cccc" + "|" + "d" would be 6 > 5, so "d" starts a new piece.
    assert out["text"].to_pylist() == ["aa|bb", "cccc", "d"]
    assert out["n"].to_pylist() == [5, 4, 1]
    assert out["segment_id"].to_pylist() == [0, 1, 2]
    with pytest.raises(ValueError, match="together"):
        DocumentJoiner(max_length=5)
