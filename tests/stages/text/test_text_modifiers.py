"""Modifiers, the Modify stage and AddId."""

from __future__ import annotations

import pickle

import pyarrow as pa
import pytest

from raycurator.errors import StageInputError
from raycurator.stages.text.modifiers import (
    DocumentModifier,
    LineRemover,
    Modify,
    NewlineNormalizer,
    UnicodeReformatter,
    UrlRemover,
)
from raycurator.stages.text.modules import AddId
from raycurator.tasks import DocumentBatch


def batch(texts, task_id="t1") -> DocumentBatch:
    return DocumentBatch(task_id=task_id, dataset_name="d", data=pa.table({"text": texts}))


class Shout(DocumentModifier):
    def modify_document(self, text: str) -> str:
        return text.upper()


def test_unicode_reformatter_normalises_to_nfc():
    decomposed = "cafe\u0301"  # e + combining acute
    assert UnicodeReformatter().modify_document(decomposed) == "caf\u00e9"
    assert UnicodeReformatter(normalization="NFKC").modify_document("\u2460") == "1"
    assert UnicodeReformatter(normalization=None, uncurl_quotes=False).modify_document("cafe\u0301") == decomposed


def test_unicode_reformatter_fixes():
    text = "\u201cquote\u201d it\u2019s \ufb01ne\r\nnext\x07line\u2028end"
    assert UnicodeReformatter().modify_document(text) == '"quote" it\'s fine\nnextline\nend'
    keep_all = UnicodeReformatter(
        fix_line_breaks=False, remove_control_chars=False, uncurl_quotes=False, fix_latin_ligatures=False
    )
    assert keep_all.modify_document(text) == text
    with pytest.raises(ValueError, match="normalization"):
        UnicodeReformatter(normalization="NFX")


def test_newline_normalizer():
    f = NewlineNormalizer()
    assert f.modify_document("a\n\n\n\nb") == "a\n\nb"
    assert f.modify_document("a\n  \n\t\n\nb") == "a\n\nb"
    assert f.modify_document("a\n\nb\nc") == "a\n\nb\nc"
    assert f.modify_document("a\r\n\r\n\r\n\r\nb") == "a\r\n\r\nb"


def test_url_remover():
    assert UrlRemover().modify_document("see https://x.io/a?b=1 and www.y.org now") == "see  and  now"
    assert UrlRemover().modify_document("HTTP://CAPS.COM x") == " x"
    assert UrlRemover().modify_document("no urls") == "no urls"


def test_line_remover_modes():
    text = "keep\n  Advertisement \nPlease enable JavaScript\nkeep too"
    assert LineRemover(["Advertisement"]).modify_document(text) == "keep\nPlease enable JavaScript\nkeep too"
    contains = LineRemover("javascript", match="contains", ignore_case=True)
    assert contains.modify_document(text) == "keep\n  Advertisement \nkeep too"
    regex = LineRemover([r"^\s*adv"], match="regex", ignore_case=True)
    assert regex.modify_document(text) == "keep\nPlease enable JavaScript\nkeep too"
    with pytest.raises(ValueError, match="match"):
        LineRemover(["x"], match="fuzzy")
    with pytest.raises(ValueError, match="patterns"):
        LineRemover([])


def test_modify_applies_modifiers_in_order_and_counts_changes():
    stage = Modify([UrlRemover(), Shout(), str.strip])
    out = stage.process(batch(["go https://a.b ", "same", "x"]))
    assert out.data["text"].to_pylist() == ["GO", "SAME", "X"]
    assert stage._consume_custom_metrics() == {"documents_modified": 3.0}
    unchanged = Modify(NewlineNormalizer())
    unchanged.process(batch(["a", "b"]))
    assert unchanged._consume_custom_metrics() == {"documents_modified": 0.0}


def test_modify_output_field_and_metadata():
    task = batch(["x\n\n\n\ny"])
    task._metadata["source_files"] = ["/in/f.jsonl"]
    out = Modify(NewlineNormalizer(), output_field="clean").process(task)
    assert out.data["text"].to_pylist() == ["x\n\n\n\ny"]
    assert out.data["clean"].to_pylist() == ["x\n\ny"]
    assert out.source_files == ["/in/f.jsonl"]
    assert Modify(UrlRemover()).process(batch(pa.array([], pa.string()))).data.num_rows == 0


def test_modify_validation_and_pickling():
    with pytest.raises(TypeError, match="neither"):
        Modify(42)
    stage = Modify([UnicodeReformatter(), LineRemover(["x"], match="regex")])
    clone = pickle.loads(pickle.dumps(stage))
    assert clone.process(batch(["x\ny"])).data["text"].to_pylist() == ["y"]


def test_add_id_is_stable_and_position_based():
    first = AddId(id_prefix="web").process(batch(["a", "b", "c"], task_id="corpus_000007"))
    second = AddId(id_prefix="web").process(batch(["a", "b", "c"], task_id="corpus_000007"))
    ids = first.data["_curator_id"].to_pylist()
    assert ids == ["web_corpus_000007_0", "web_corpus_000007_1", "web_corpus_000007_2"]
    assert ids == second.data["_curator_id"].to_pylist()
    plain = AddId(id_field="doc_id").process(batch(["a"], task_id="t9"))
    assert plain.data["doc_id"].to_pylist() == ["t9_0"]


def test_add_id_refuses_to_overwrite_unless_asked():
    task = DocumentBatch(task_id="t", dataset_name="d", data=pa.table({"text": ["a"], "id": ["old"]}))
    with pytest.raises(StageInputError, match="already has column 'id'"):
        AddId(id_field="id").process(task)
    assert AddId(id_field="id", overwrite=True).process(task).data["id"].to_pylist() == ["t_0"]
