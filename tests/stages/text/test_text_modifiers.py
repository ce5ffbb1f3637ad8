"""Modifiers, the Modify stage and AddId."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import pyarrow as pa
import pytest
from ftfy import TextFixerConfig

from raycurator.errors import StageInputError
from raycurator.stages.text import modifiers
from raycurator.stages.text.modifiers import (
    BoilerPlateStringModifier,
    DocumentModifier,
    LineRemover,
    MarkdownRemover,
    Modify,
    NewlineNormalizer,
    QuotationRemover,
    Slicer,
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


REAL_TEXT = Path(__file__).parent / "real_text"

# (document, modifier, parameters, length and sha256 prefix of NeMo Curator 1.4's output on it),
# computed once by running NeMo Curator's own modifiers outside this repository.
TO_LICENSE = {"left": 10, "right": "License", "include_right": False}
EXPECTED_OUTPUTS = [
    ('ftfy_METADATA.txt', 'UnicodeReformatter', {}, 7121, 'b5c329616e5edeaf'),
    ('ftfy_METADATA.txt', 'MarkdownRemover', {}, 6707, 'ae62536db7cdc6d7'),
    ('ftfy_METADATA.txt', 'UrlRemover', {}, 5844, 'dd43e93884542da1'),
    ('ftfy_METADATA.txt', 'NewlineNormalizer', {}, 7149, '83f67c6280377637'),
    ('ftfy_METADATA.txt', 'BoilerPlateStringModifier', {}, 7149, '83f67c6280377637'),
    ('ftfy_METADATA.txt', 'QuotationRemover', {}, 7149, '83f67c6280377637'),
    ('ftfy_METADATA.txt', 'Slicer', {'left': 'Requests', 'right': '.'}, 0, 'e3b0c44298fc1c14'),
    ('ftfy_METADATA.txt', 'Slicer', TO_LICENSE, 569, '4baa4f16850eae1e'),
    ('fugashi_METADATA_ja.txt', 'UnicodeReformatter', {}, 7217, 'ffddb59052d17e51'),
    ('fugashi_METADATA_ja.txt', 'MarkdownRemover', {}, 6852, 'e296f8cf1d9952d6'),
    ('fugashi_METADATA_ja.txt', 'UrlRemover', {}, 5911, '3944ca9ba4fc1591'),
    ('fugashi_METADATA_ja.txt', 'NewlineNormalizer', {}, 7217, 'ffddb59052d17e51'),
    ('fugashi_METADATA_ja.txt', 'BoilerPlateStringModifier', {}, 7217, 'ffddb59052d17e51'),
    ('fugashi_METADATA_ja.txt', 'QuotationRemover', {}, 7217, 'ffddb59052d17e51'),
    ('fugashi_METADATA_ja.txt', 'Slicer', {'left': 'Requests', 'right': '.'}, 0, 'e3b0c44298fc1c14'),
    ('fugashi_METADATA_ja.txt', 'Slicer', TO_LICENSE, 7179, '867bae9844b55c6d'),
    ('idna_LICENSE.md', 'UnicodeReformatter', {}, 1541, '1a9a4f0e3d479a27'),
    ('idna_LICENSE.md', 'MarkdownRemover', {}, 1541, '1a9a4f0e3d479a27'),
    ('idna_LICENSE.md', 'UrlRemover', {}, 1541, '1a9a4f0e3d479a27'),
    ('idna_LICENSE.md', 'NewlineNormalizer', {}, 1541, '1a9a4f0e3d479a27'),
    ('idna_LICENSE.md', 'BoilerPlateStringModifier', {}, 1541, '1a9a4f0e3d479a27'),
    ('idna_LICENSE.md', 'QuotationRemover', {}, 1541, '1a9a4f0e3d479a27'),
    ('idna_LICENSE.md', 'Slicer', {'left': 'Requests', 'right': '.'}, 0, 'e3b0c44298fc1c14'),
    ('idna_LICENSE.md', 'Slicer', TO_LICENSE, 2, 'ad9a67fefa847de8'),
    ('jieba_METADATA_zh.txt', 'UnicodeReformatter', {}, 1914, '5661d2cfc5b23f8c'),
    ('jieba_METADATA_zh.txt', 'MarkdownRemover', {}, 1914, '5661d2cfc5b23f8c'),
    ('jieba_METADATA_zh.txt', 'UrlRemover', {}, 1787, '7f148d93ee707f9e'),
    ('jieba_METADATA_zh.txt', 'NewlineNormalizer', {}, 1913, 'd4589a209b38023c'),
    ('jieba_METADATA_zh.txt', 'BoilerPlateStringModifier', {}, 1914, '5661d2cfc5b23f8c'),
    ('jieba_METADATA_zh.txt', 'QuotationRemover', {}, 1914, '5661d2cfc5b23f8c'),
    ('jieba_METADATA_zh.txt', 'Slicer', {'left': 'Requests', 'right': '.'}, 0, 'e3b0c44298fc1c14'),
    ('jieba_METADATA_zh.txt', 'Slicer', TO_LICENSE, 330, '3175fba6c8b8ee1b'),
    ('networkx_LICENSE.txt', 'UnicodeReformatter', {}, 1763, '3cf7c3a179d817b2'),
    ('networkx_LICENSE.txt', 'MarkdownRemover', {}, 1763, '3cf7c3a179d817b2'),
    ('networkx_LICENSE.txt', 'UrlRemover', {}, 1763, '3cf7c3a179d817b2'),
    ('networkx_LICENSE.txt', 'NewlineNormalizer', {}, 1763, '3cf7c3a179d817b2'),
    ('networkx_LICENSE.txt', 'BoilerPlateStringModifier', {}, 1763, '3cf7c3a179d817b2'),
    ('networkx_LICENSE.txt', 'QuotationRemover', {}, 1763, '3cf7c3a179d817b2'),
    ('networkx_LICENSE.txt', 'Slicer', {'left': 'Requests', 'right': '.'}, 0, 'e3b0c44298fc1c14'),
    ('networkx_LICENSE.txt', 'Slicer', TO_LICENSE, 0, 'e3b0c44298fc1c14'),
    ('requests_METADATA.txt', 'UnicodeReformatter', {}, 4794, '8c384ba3e979480f'),
    ('requests_METADATA.txt', 'MarkdownRemover', {}, 4619, '13075828383c1b1b'),
    ('requests_METADATA.txt', 'UrlRemover', {}, 3861, '066414491eaaa32c'),
    ('requests_METADATA.txt', 'NewlineNormalizer', {}, 4794, '8c384ba3e979480f'),
    ('requests_METADATA.txt', 'BoilerPlateStringModifier', {}, 4794, '8c384ba3e979480f'),
    ('requests_METADATA.txt', 'QuotationRemover', {}, 4794, '8c384ba3e979480f'),
    ('requests_METADATA.txt', 'Slicer', {'left': 'Requests', 'right': '.'}, 2883, '90f603bf464904ae'),
    ('requests_METADATA.txt', 'Slicer', TO_LICENSE, 1510, '2ce673092fef7943'),
    ('torch_LICENSE.txt', 'UnicodeReformatter', {}, 3464, 'bd018feef8825e88'),
    ('torch_LICENSE.txt', 'MarkdownRemover', {}, 3464, 'bd018feef8825e88'),
    ('torch_LICENSE.txt', 'UrlRemover', {}, 3464, 'bd018feef8825e88'),
    ('torch_LICENSE.txt', 'NewlineNormalizer', {}, 3464, 'bd018feef8825e88'),
    ('torch_LICENSE.txt', 'BoilerPlateStringModifier', {}, 3464, 'bd018feef8825e88'),
    ('torch_LICENSE.txt', 'QuotationRemover', {}, 3464, 'bd018feef8825e88'),
    ('torch_LICENSE.txt', 'Slicer', {'left': 'Requests', 'right': '.'}, 0, 'e3b0c44298fc1c14'),
    ('torch_LICENSE.txt', 'Slicer', TO_LICENSE, 0, 'e3b0c44298fc1c14'),
    ('yarl_LICENSE_apache2.txt', 'UnicodeReformatter', {}, 11358, 'cfc7749b96f63bd3'),
    ('yarl_LICENSE_apache2.txt', 'MarkdownRemover', {}, 11358, 'cfc7749b96f63bd3'),
    ('yarl_LICENSE_apache2.txt', 'UrlRemover', {}, 11285, '40764aa052d4498c'),
    ('yarl_LICENSE_apache2.txt', 'NewlineNormalizer', {}, 11358, 'cfc7749b96f63bd3'),
    ('yarl_LICENSE_apache2.txt', 'BoilerPlateStringModifier', {}, 11358, 'cfc7749b96f63bd3'),
    ('yarl_LICENSE_apache2.txt', 'QuotationRemover', {}, 11358, 'cfc7749b96f63bd3'),
    ('yarl_LICENSE_apache2.txt', 'Slicer', {'left': 'Requests', 'right': '.'}, 0, 'e3b0c44298fc1c14'),
    ('yarl_LICENSE_apache2.txt', 'Slicer', TO_LICENSE, 11314, '700a1bc5ee288c43'),
]


@pytest.mark.parametrize(("doc", "name", "params", "length", "digest"), EXPECTED_OUTPUTS, ids=lambda v: str(v)[:30])
def test_modifiers_equal_nemo_curator_on_real_text(doc, name, params, length, digest):
    text = (REAL_TEXT / doc).read_text(encoding="utf-8")
    out = getattr(modifiers, name)(**params).modify_document(text)
    assert (len(out), hashlib.sha256(out.encode()).hexdigest()[:16]) == (length, digest)


@pytest.mark.parametrize(
    ("broken", "fixed"),
    [  # the examples of ftfy's README (real mojibake), repaired as NeMo Curator's defaults repair them
        ("\u00e2\u0153\u201d No problems", "\u2714 No problems"),
        ("l\u2019humanit\u00c3\u00a9", "l\u2019humanit\u00e9"),
        ("P&EACUTE;REZ", "P\u00c9REZ"),
        ("(\u00e0\u00b8\u2021'\u00e2\u0152\u00a3')\u00e0\u00b8\u2021", "(\u0e07'\u2323')\u0e07"),
    ],
)
def test_unicode_reformatter_repairs_mojibake(broken, fixed):
    assert UnicodeReformatter().modify_document(broken) == fixed


def test_unicode_reformatter_options_and_config():
    assert UnicodeReformatter().modify_document("cafe\u0301 \ufb01") == "cafe\u0301 \ufb01"  # NeMo: no NFC by default
    assert UnicodeReformatter(normalization="NFC").modify_document("cafe\u0301") == "caf\u00e9"
    fixer = UnicodeReformatter(fix_latin_ligatures=True, uncurl_quotes=True)
    assert fixer.modify_document("\u201c\ufb01\u201d") == '"fi"'
    assert UnicodeReformatter(config=TextFixerConfig(unescape_html=False)).modify_document("&amp;") == "&amp;"
    with pytest.raises(ValueError, match="normalization"):
        UnicodeReformatter(normalization="NFX")


def test_newline_normalizer():
    f = NewlineNormalizer()
    assert f.modify_document("a\n\n\n\nb") == "a\n\nb"
    assert f.modify_document("a\n  \n\t\n\nb") == "a\n  \n\t\n\nb"  # blank lines with spaces are not collapsed
    assert f.modify_document("a\n\nb\nc") == "a\n\nb\nc"
    assert f.modify_document("a\r\n\r\n\r\n\r\nb") == "a\r\n\r\nb"


def test_url_remover():
    assert UrlRemover().modify_document("see https://x.io/a?b=1 and www.y.org now") == "see  and  now"
    assert UrlRemover().modify_document("HTTP://CAPS.COM x") == " x"
    assert UrlRemover().modify_document("no urls") == "no urls"


def test_markdown_quotation_slicer_boilerplate():
    assert MarkdownRemover().modify_document("**b** *i* _u_ [t](http://x)\nsnake_case_name") == "b i u http://x\nsnakecasename"
    assert QuotationRemover().modify_document('"quoted"') == "quoted"
    assert QuotationRemover().modify_document('"first"\nsecond "x"') == '"first"\nsecond "x"'
    assert QuotationRemover().modify_document('""') == '""'
    inner = Slicer(left="<b>", right="</b>", include_left=False, include_right=False)
    assert inner.modify_document("a<b> x </b>c") == "x"
    assert Slicer(left="missing").modify_document("text") == ""
    assert Slicer(2, 5, strip=False).modify_document("abcdefg") == "cde"
    top = "Read our privacy policy\n\nBody one\n\nBody two"
    assert BoilerPlateStringModifier().modify_document(top) == "Body one\n\nBody two"
    middle = "Body one\n\nRead our privacy policy\n\nBody two"
    assert BoilerPlateStringModifier().modify_document(middle) == middle
    assert BoilerPlateStringModifier(remove_if_at_top_or_bottom=False).modify_document(middle) == ""
    assert BoilerPlateStringModifier().modify_document("x\n\nLorem ipsum dolor") == ""


def test_modify_takes_nemo_curator_fields():
    table = pa.table({"text": ["a b"], "title": ["T"], "lang": ["en"]})
    task = DocumentBatch(task_id="m", dataset_name="d", data=table)
    stage = Modify(
        [Shout(), lambda text, lang: f"{lang}:{text}"],
        input_fields=[["title"], ["text", "lang"]],
        output_fields=[None, "tagged"],
    )
    out = stage.process(task).data
    assert out["title"].to_pylist() == ["T"] and out["tagged"].to_pylist() == ["en:a b"]
    assert stage.inputs() == (["data"], ["title", "text", "lang"])
    assert stage.outputs() == (["data"], ["title", "tagged"])
    with pytest.raises(ValueError, match="explicit output field"):
        Modify(Shout(), input_fields=[["text", "lang"]])
    with pytest.raises(ValueError, match="input field entries"):
        Modify([Shout(), Shout()], input_fields=["a", "b", "c"])


def test_line_remover_modes():
    text = "keep\n  Advertisement \nPlease enable JavaScript\nkeep too"
    assert LineRemover(["  Advertisement "]).modify_document(text) == "keep\nPlease enable JavaScript\nkeep too"
    assert LineRemover(["Advertisement"]).modify_document(text) == text  # exact match, as NeMo Curator
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
