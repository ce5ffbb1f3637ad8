"""Score, Filter and ScoreFilter stages on Arrow batches."""

from __future__ import annotations

import pickle

import pandas as pd
import pyarrow as pa
import pytest

from raycurator.errors import StageInputError
from raycurator.stages.text.filters import (
    DocumentFilter,
    Filter,
    NonAlphaNumericFilter,
    Score,
    ScoreFilter,
    WordCountFilter,
)
from raycurator.tasks import DocumentBatch, FileGroupTask

TEXTS = ["one two three", "one", "alpha beta gamma delta epsilon", "!!! ??? ,,,"]


def batch(texts=TEXTS, **columns) -> DocumentBatch:
    data = {"text": texts, "id": list(range(len(texts))), **columns}
    return DocumentBatch(
        task_id="t1", dataset_name="d", data=pa.table(data), _metadata={"source_files": ["/in/a.jsonl"]}
    )


class LengthFilter(DocumentFilter):
    """A user filter written with the scalar methods only."""

    def __init__(self, min_length: int) -> None:
        super().__init__()
        self.min_length = min_length
        self._name = "length"

    def score_document(self, text: str) -> float:
        return len(text)

    def keep_document(self, score: float) -> bool:
        return score >= self.min_length


def test_score_filter_keeps_passing_rows_and_logs_metrics():
    stage = ScoreFilter(WordCountFilter(min_words=3))
    out = stage.process(batch())
    assert out.data["id"].to_pylist() == [0, 2, 3]
    assert out.task_id == "t1" and out.source_files == ["/in/a.jsonl"]
    metrics = stage._consume_custom_metrics()
    assert metrics == {"removed_by_word_count": 1.0, "documents_in": 4.0, "documents_removed": 1.0}


def test_score_filter_with_score_field_and_list():
    stage = ScoreFilter([WordCountFilter(min_words=3), NonAlphaNumericFilter()], score_field=["words", "non_alnum"])
    out = stage.process(batch(["one two three", "one", "alpha beta gamma delta epsilon", "!!! ; ??? ;"]))
    assert out.data["id"].to_pylist() == [0, 2]
    assert out.data["words"].to_pylist() == [3.0, 5.0]
    # NeMo Curator's definition: spaces are non-alphanumeric, "!?,." and newlines are not.
    assert out.data["non_alnum"].to_pylist() == pytest.approx([2 / 13, 4 / 30])
    metrics = stage._consume_custom_metrics()
    assert metrics["removed_by_word_count"] == 1 and metrics["removed_by_alpha_numeric"] == 1
    assert metrics["documents_removed"] == 2


def test_score_filter_invert_keeps_exactly_the_removed_rows():
    kept = ScoreFilter(WordCountFilter(min_words=3)).process(batch()).data["id"].to_pylist()
    removed = ScoreFilter(WordCountFilter(min_words=3), invert=True, score_field="w").process(batch())
    assert sorted(kept + removed.data["id"].to_pylist()) == [0, 1, 2, 3]
    assert removed.data["id"].to_pylist() == [1]
    assert removed.data["w"].to_pylist() == [1.0]


def test_score_filter_takes_nemo_curator_lists_of_fields_and_inverts():
    data = batch(["one two three", "one", "a b c d e", "x y"], title=["t t t", "a b c d", "z", "p q r"])
    # Filter 1 reads "title" and is inverted (keeps titles of fewer than 3 words): rows 2.
    # Filter 2 reads "text" (at least 3 words): row 2 has 5 words and stays.
    stage = ScoreFilter(
        [WordCountFilter(min_words=3), WordCountFilter(min_words=3)],
        text_field=["title", "text"],
        score_field=["title_words", None],
        invert=[True, False],
    )
    out = stage.process(data)
    assert out.data["id"].to_pylist() == [2]
    assert out.data["title_words"].to_pylist() == [1.0]
    assert stage.inputs() == (["data"], ["title", "text"])
    with pytest.raises(ValueError, match="invert"):
        ScoreFilter([WordCountFilter(), WordCountFilter()], invert=[True, False, True])
    with pytest.raises(ValueError, match="score_field must be a list"):
        ScoreFilter([WordCountFilter(), NonAlphaNumericFilter()], score_field="one")
    with pytest.raises(ValueError, match="filter_field must be a list"):
        Filter([WordCountFilter(), NonAlphaNumericFilter()], filter_field="w")
    with pytest.raises(ValueError, match="score_field cannot be None"):
        Score(WordCountFilter(), score_field=None)


def test_score_filter_with_a_scalar_user_filter_and_pandas_data():
    task = DocumentBatch(task_id="p", dataset_name="d", data=pd.DataFrame({"text": ["abc", "a", "abcdef"]}))
    out = ScoreFilter(LengthFilter(3), score_field="len").process(task)
    assert out.data["text"].to_pylist() == ["abc", "abcdef"]
    assert out.data["len"].to_pylist() == [3.0, 6.0]


def test_score_filter_handles_empty_batches_and_null_texts():
    empty = DocumentBatch(task_id="e", dataset_name="d", data=pa.table({"text": pa.array([], pa.string())}))
    assert ScoreFilter(WordCountFilter(min_words=1)).process(empty).data.num_rows == 0
    nulls = DocumentBatch(task_id="n", dataset_name="d", data=pa.table({"text": ["a b", None]}))
    assert ScoreFilter(WordCountFilter(min_words=1)).process(nulls).data["text"].to_pylist() == ["a b"]


def test_score_filter_on_custom_text_field_and_large_strings():
    table = pa.table({"content": pa.array(["x y z", "x"], type=pa.large_string())})
    task = DocumentBatch(task_id="c", dataset_name="d", data=table)
    out = ScoreFilter(WordCountFilter(min_words=2), text_field="content").process(task)
    assert out.data["content"].to_pylist() == ["x y z"]


def test_score_filter_validation():
    with pytest.raises(ValueError, match="score_field"):
        ScoreFilter([WordCountFilter(), NonAlphaNumericFilter()], score_field=["only_one"])
    with pytest.raises(TypeError, match="not a DocumentFilter"):
        ScoreFilter(object())
    stage = ScoreFilter(WordCountFilter())
    with pytest.raises(StageInputError, match="lacks column"):
        stage.validate_input(DocumentBatch(task_id="x", dataset_name="d", data=pa.table({"body": ["a"]})))
    with pytest.raises(StageInputError, match="DocumentBatch"):
        stage.process(FileGroupTask(task_id="f", dataset_name="d", data=["/a"]))


def test_score_then_filter_equals_score_filter():
    scored = Score(WordCountFilter(min_words=3), score_field="words").process(batch())
    assert scored.data["words"].to_pylist() == [3.0, 1.0, 5.0, 3.0]
    assert scored.data.num_rows == 4
    filtered = Filter(WordCountFilter(min_words=3), filter_field="words").process(scored)
    assert filtered.data["id"].to_pylist() == [0, 2, 3]
    inverted = Filter(lambda s: s >= 3, filter_field="words", invert=True).process(scored)
    assert inverted.data["id"].to_pylist() == [1]


def test_score_accepts_callables_and_lists():
    stage = Score([len, WordCountFilter()], score_field=["chars", "words"])
    out = stage.process(batch())
    assert out.data["chars"].to_pylist() == [len(t) for t in TEXTS]
    assert out.data["words"].to_pylist() == [3.0, 1.0, 5.0, 3.0]


def test_stages_have_distinct_names_and_pickle():
    stages = [
        ScoreFilter(WordCountFilter()),
        ScoreFilter([NonAlphaNumericFilter(), LengthFilter(2)]),
        Score(WordCountFilter(), "w"),
        Filter(WordCountFilter(), "w"),
    ]
    assert [s.name for s in stages] == [
        "ScoreFilter_word_count",
        "ScoreFilter_alpha_numeric_length",
        "Score_w",
        "Filter_w",
    ]
    for stage in stages:
        clone = pickle.loads(pickle.dumps(stage))
        assert clone.name == stage.name


def test_filter_drops_rows_with_null_scores_and_all_removed_batches_stay_valid():
    task = DocumentBatch(task_id="t", dataset_name="d", data=pa.table({"v": [1.0, None, 3.0], "i": [1, None, 5]}))
    assert Filter(lambda s: s > 0, "v").process(task).data["v"].to_pylist() == [1.0, 3.0]
    assert Filter(WordCountFilter(min_words=2), "i").process(task).data["i"].to_pylist() == [5]
    none_left = ScoreFilter([WordCountFilter(min_words=9), NonAlphaNumericFilter()], score_field=["w", "n"])
    out = none_left.process(batch())
    assert out.data.num_rows == 0 and out.data.column_names == ["text", "id", "w", "n"]
