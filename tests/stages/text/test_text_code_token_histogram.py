"""Code filters, TokenCountFilter and HistogramFilter: NeMo Curator's scores on real files, local models only."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import pyarrow as pa
import pytest

from raycurator.stages.text.filters.heuristic import code
from raycurator.stages.text.filters.histogram import HistogramFilter, available_languages
from raycurator.stages.text.filters.score_filter import ScoreFilter
from raycurator.stages.text.filters.token import TokenCountFilter
from raycurator.tasks import DocumentBatch

HERE = Path(__file__).parent
REAL_CODE = HERE / "real_code"
REAL_TEXT = HERE / "real_text"
# StarCoder-style per-extension rules for the test (same columns as NeMo Curator's code_meta.csv).
META_CSV = """extension,language,Include,Alphanum_threshold,Long_line_threshold,Alpha filter
py,python,1,0.25,1000,
h,c,1,0.25,1000,0.25
js,javascript,1,0.5,50,
html,html,0,,,
"""

# (file, filter, parameters, NeMo Curator 1.4's score, its keep decision): computed once by running
# NeMo Curator's code filters on these files outside this repository (PerExtensionFilter with META_CSV).
# The files are real sources copied from installed packages (idna, lxml, matplotlib, setuptools).
JS = {"language": "application/javascript"}
EXPECTED = [
    ('idna_cli.py.txt', 'NumberOfLinesOfCodeFilter', {}, 133, True),
    ('idna_cli.py.txt', 'XMLHeaderFilter', {}, 0, True),
    ('idna_cli.py.txt', 'AlphaFilter', {}, 0.6071681207262438, True),
    ('idna_cli.py.txt', 'HTMLBoilerplateFilter', {}, 1.0, True),
    ('idna_cli.py.txt', 'PythonCommentToCodeFilter', {}, 0.16977128035840602, True),
    ('idna_cli.py.txt', 'PerExtensionFilter', {'lang': 'python', 'extension': 'py'}, 1, True),
    ('idna_intranges.py.txt', 'NumberOfLinesOfCodeFilter', {}, 56, True),
    ('idna_intranges.py.txt', 'XMLHeaderFilter', {}, 0, True),
    ('idna_intranges.py.txt', 'AlphaFilter', {}, 0.5813074014046461, True),
    ('idna_intranges.py.txt', 'HTMLBoilerplateFilter', {}, 1.0, True),
    ('idna_intranges.py.txt', 'PythonCommentToCodeFilter', {}, 0.39330091842247433, True),
    ('idna_intranges.py.txt', 'PerExtensionFilter', {'lang': 'python', 'extension': 'py'}, 1, True),
    ('lxml_etree_api.h.txt', 'NumberOfLinesOfCodeFilter', {}, 215, True),
    ('lxml_etree_api.h.txt', 'XMLHeaderFilter', {}, 0, True),
    ('lxml_etree_api.h.txt', 'AlphaFilter', {}, 0.6743647656691135, True),
    ('lxml_etree_api.h.txt', 'HTMLBoilerplateFilter', {}, 1.0, True),
    ('lxml_etree_api.h.txt', 'GeneralCommentToCodeFilter', {'language': 'text/x-c'}, 0.0032749858836815357, False),
    ('lxml_etree_api.h.txt', 'PerExtensionFilter', {'lang': 'c', 'extension': 'h'}, 1, True),
    ('matplotlib_all_figures.html.txt', 'NumberOfLinesOfCodeFilter', {}, 53, True),
    ('matplotlib_all_figures.html.txt', 'XMLHeaderFilter', {}, 0, True),
    ('matplotlib_all_figures.html.txt', 'AlphaFilter', {}, 0.5641756988020536, True),
    ('matplotlib_all_figures.html.txt', 'HTMLBoilerplateFilter', {}, 0, False),
    ('matplotlib_all_figures.html.txt', 'PerExtensionFilter', {'lang': 'html', 'extension': 'html'}, 0, False),
    ('matplotlib_mpl_tornado.js.txt', 'NumberOfLinesOfCodeFilter', {}, 9, False),
    ('matplotlib_mpl_tornado.js.txt', 'XMLHeaderFilter', {}, 0, True),
    ('matplotlib_mpl_tornado.js.txt', 'AlphaFilter', {}, 0.7185430463576159, True),
    ('matplotlib_mpl_tornado.js.txt', 'HTMLBoilerplateFilter', {}, 1.0, True),
    ('matplotlib_mpl_tornado.js.txt', 'GeneralCommentToCodeFilter', JS, 0.6158940397350994, True),
    ('matplotlib_mpl_tornado.js.txt', 'PerExtensionFilter', {'lang': 'javascript', 'extension': 'js'}, 0, False),
    ('setuptools_launcher_manifest.xml.txt', 'NumberOfLinesOfCodeFilter', {}, 16, True),
    ('setuptools_launcher_manifest.xml.txt', 'XMLHeaderFilter', {}, 1, False),
    ('setuptools_launcher_manifest.xml.txt', 'AlphaFilter', {}, 0.5605095541401274, True),
    ('setuptools_launcher_manifest.xml.txt', 'HTMLBoilerplateFilter', {}, 0, False),
]


@pytest.mark.parametrize(("doc", "name", "params", "score", "keep"), EXPECTED, ids=lambda v: str(v)[:30])
def test_code_filters_equal_nemo_curator_on_real_files(tmp_path, doc, name, params, score, keep):
    source = (REAL_CODE / doc).read_text(encoding="utf-8")
    if name == "PerExtensionFilter":
        (tmp_path / "meta.csv").write_text(META_CSV)
        params = {**params, "metadata_file": str(tmp_path / "meta.csv")}
    f = getattr(code, name)(**params)
    assert f.score_document(source) == pytest.approx(score, abs=1e-12)
    assert f.keep_document(f.score_document(source)) is keep


def test_code_filter_edge_cases(tmp_path):
    assert code.PythonCommentToCodeFilter().score_document("def broken(:\n") == 0  # unparsable: 0
    assert math.isnan(code.AlphaFilter().score_document(""))
    assert code.XMLHeaderFilter(char_prefix_search_length=5).score_document("  <?xml version='1.0'?>") == 0
    assert code.NumberOfLinesOfCodeFilter(min_lines=1, max_lines=2).keep_document(2)
    (tmp_path / "meta.csv").write_text(META_CSV)
    with pytest.raises(ValueError, match="no rules"):
        code.PerExtensionFilter("cobol", "cbl", metadata_file=str(tmp_path / "meta.csv"))
    unknown_ext = code.PerExtensionFilter("python", "pyw", metadata_file=str(tmp_path / "meta.csv"))
    assert unknown_ext.score_document("x = 1\n") == 0
    with pytest.raises(ValueError, match="path_to_tokenizer"):
        code.TokenizerFertilityFilter()


def _train_sentencepiece(tmp_path: Path) -> str:
    import sentencepiece

    corpus = tmp_path / "corpus.txt"
    corpus.write_text((REAL_TEXT / "yarl_LICENSE_apache2.txt").read_text(encoding="utf-8"), encoding="utf-8")
    prefix = tmp_path / "sp"
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(prefix), vocab_size=200, model_type="bpe", minloglevel=2
    )
    return f"{prefix}.model"


def test_tokenizer_fertility_with_a_trained_sentencepiece_model(tmp_path):
    import sentencepiece

    model = _train_sentencepiece(tmp_path)
    f = code.TokenizerFertilityFilter(path_to_tokenizer=model, min_char_to_token_ratio=2.5)
    source = (REAL_CODE / "idna_intranges.py.txt").read_text(encoding="utf-8")
    pieces = sentencepiece.SentencePieceProcessor(model_file=model).encode_as_pieces(source)
    assert f.score_document(source) == pytest.approx(len(source) / len(pieces))
    assert f.score_document("") == -1
    clone = pickle.loads(pickle.dumps(f))
    assert clone.score_document(source) == f.score_document(source)
    with pytest.raises(ValueError, match="cannot load"):
        code.TokenizerFertilityFilter(path_to_tokenizer=str(tmp_path / "missing.model"))


def _train_tokenizer(tmp_path: Path) -> str:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["[UNK]"])
    texts = [(REAL_TEXT / n).read_text(encoding="utf-8") for n in ("yarl_LICENSE_apache2.txt", "torch_LICENSE.txt")]
    tokenizer.train_from_iterator(texts, trainer=trainer)
    path = tmp_path / "tokenizer.json"
    tokenizer.save(str(path))
    return str(path)


def test_token_count_filter_with_a_local_tokenizer_file(tmp_path):
    from tokenizers import Tokenizer

    path = _train_tokenizer(tmp_path)
    text = (REAL_TEXT / "networkx_LICENSE.txt").read_text(encoding="utf-8")
    expected = len(Tokenizer.from_file(path).encode(text))
    f = TokenCountFilter(tokenizer_file=path, min_tokens=10, max_tokens=expected)
    assert f.score_document(text) == expected and f.keep_document(expected)
    assert not f.keep_document(expected + 1) and not f.keep_document(9)
    assert TokenCountFilter(hf_model_name=str(tmp_path)).score_document(text) == expected  # a local model folder
    assert TokenCountFilter(tokenizer=Tokenizer.from_file(path)).score_document(text) == expected
    clone = pickle.loads(pickle.dumps(f))
    assert clone.score_documents(pa.array([text, ""])).tolist() == [expected, 0]

    stage = ScoreFilter(TokenCountFilter(tokenizer_file=path, min_tokens=1), score_field="tokens")
    assert stage.ray_stage_spec() == {"is_actor_stage": True}
    stage.setup()
    table = pa.table({"text": [text, ""]})
    out = stage.process(DocumentBatch(task_id="t", dataset_name="d", data=table))
    assert out.data["tokens"].to_pylist() == [expected]


def test_token_count_filter_fails_early_on_a_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nope\.json"):
        TokenCountFilter(tokenizer_file=str(tmp_path / "nope.json"))
    with pytest.raises(FileNotFoundError, match="Hub is not used"):
        TokenCountFilter(hf_model_name="bert-base-uncased")
    with pytest.raises(ValueError, match="exactly one"):
        TokenCountFilter()


def test_histograms_are_shipped_and_tell_languages_apart():
    assert {"en", "zh", "de", "ru", "fr", "es"} <= set(available_languages())
    english = (REAL_TEXT / "networkx_LICENSE.txt").read_text(encoding="utf-8")
    chinese = "“结巴”中文分词：做最好的 Python 中文分词组件。精确模式，试图将句子最精确地切开，适合文本分析；"  # noqa: RUF001
    assert HistogramFilter(lang="en").score_document(english) == 1
    assert HistogramFilter(lang="zh").score_document(english) == 0
    assert HistogramFilter(lang="zh").score_document(chinese) == 1
    assert HistogramFilter(lang="en").score_document(chinese) == 0
    assert HistogramFilter(lang="ru").score_document(english) == 0
    assert HistogramFilter(lang="en").score_document("") == 0
    assert not HistogramFilter().keep_document(0) and HistogramFilter().keep_document(1)
    with pytest.raises(ValueError, match="no histogram for lang='xx'"):
        HistogramFilter(lang="xx")


def test_histogram_from_a_cache_dir(tmp_path):
    (tmp_path / "en").write_text("a\nb\n]\nc\n", encoding="utf-8")
    f = HistogramFilter(lang="en", cache_dir=str(tmp_path), threshold=0.5)
    assert f.score_document("aab") == 1 and f.score_document("acc") == 0
