"""fastText language identification and quality filtering on real text, through real executors."""

from __future__ import annotations

import importlib.util
import json
import pickle
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from raycurator.backends.local import LocalExecutor
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.cli.corpus import make_documents
from raycurator.cli.quality_demo import DEMO_PARAMS, NOT_LEXICAL, write_quality_training_data
from raycurator.pipeline import Pipeline
from raycurator.stages.text.filters import ScoreFilter
from raycurator.stages.text.filters.fasttext import (
    FastTextLangId,
    FastTextQualityFilter,
    ModelFileError,
    bundled_langid_model_path,
    check_model_file,
    fasttext_filters,
    model_file,
    parse_langid_score,
)
from raycurator.stages.text.filters.fasttext.training import (
    QualityTrainingParams,
    TrainingDataError,
    train_quality_classifier,
)
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.io.writer import JsonlWriter
from raycurator.stages.text.modifiers import Modify
from raycurator.stages.text.modifiers.fasttext import FastTextLabelModifier, LangIdLanguageModifier
from raycurator.tasks import DocumentBatch
from raycurator.tasks.utils import TaskPerfUtils


def _load_helper(name: str):
    """A helper module beside this file (the tests folder is not a package)."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


message_catalogs = _load_helper("message_catalogs")
DJANGO = message_catalogs.django_root()
BINARY_JUNK = "\x00\x01\x02\x7f\ufffd\x03" * 20 + "\u0000\u0007\u001b[31m"


def catalog_docs(locale: str, chars: int = 400, limit: int = 10) -> list[str]:
    assert DJANGO is not None, "Django (the langid extra) ships the translated catalogs these tests read"
    return message_catalogs.catalog_documents(DJANGO, locale, chars=chars, limit=limit)


# -- language identification ---------------------------------------------------------------------


def test_bundled_model_is_found_on_disk_and_checked():
    path = bundled_langid_model_path()
    assert path.endswith("lid.176.ftz") and Path(path).is_file()
    info = check_model_file(path)
    assert info.num_labels == 176 and info.quantized
    assert {"__label__en", "__label__zh", "__label__ar"} <= set(info.labels)


def test_bundled_model_identifies_human_translated_text_in_many_languages():
    """Django's human translations (about 400 characters per document) in 34 languages."""
    langid = FastTextLangId()
    accuracy: dict[str, float] = {}
    for locale, code in message_catalogs.LANGUAGES.items():
        docs = catalog_docs(locale)
        if len(docs) < 5:
            continue
        probabilities, languages = langid.predict(docs)
        accuracy[code] = sum(lang == code for lang in languages) / len(docs)
        assert (probabilities > 0).all()
    print("per-language accuracy:", json.dumps(accuracy, sort_keys=True))
    assert len(accuracy) >= 20, accuracy
    assert min(accuracy.values()) >= 0.8, accuracy
    assert sum(accuracy.values()) / len(accuracy) >= 0.97, accuracy


def test_keep_rules_follow_score_and_language():
    any_lang = FastTextLangId(min_langid_score=0.5)
    assert any_lang.keep_document("[0.9, 'fr']") and not any_lang.keep_document("[0.4, 'fr']")
    assert any_lang.keep_document([0.5, "de"]) and any_lang.keep_document((0.5, "de"))
    english = FastTextLangId(lang="EN")
    assert english.keep_document("[0.9, 'en']") and english.keep_document("[0.9, 'en_Latn']")
    assert not english.keep_document("[0.9, 'fr']") and not english.keep_document("[0.2, 'en']")
    latin = FastTextLangId(lang="en_Latn")
    assert latin.keep_document("[0.9, 'EN_latn']") and not latin.keep_document("[0.9, 'en']")
    assert parse_langid_score("[0.25, 'ja']") == (0.25, "ja")
    with pytest.raises(ValueError, match="not a language-ID score"):
        any_lang.keep_document("en")
    with pytest.raises(ValueError, match="min_langid_score"):
        FastTextLangId(min_langid_score=2)


def test_empty_text_and_binary_junk_are_scored_and_removed():
    langid = FastTextLangId()
    scores = langid.score_documents(["", "   \n\t ", BINARY_JUNK, "Ceci est une phrase écrite en français."])
    pairs = [parse_langid_score(s) for s in scores]
    assert pairs[0] == (0.0, "und") and pairs[1] == (0.0, "und")
    assert pairs[2][0] < 0.3  # no language in binary junk
    assert pairs[3][1] == "fr"
    assert langid.keep_documents(scores).tolist() == [False, False, False, True]


def write_multilingual_corpus(folder: Path) -> dict[str, str]:
    """JSONL files of 2 documents in each of 25 languages plus an empty and a junk document; id -> language."""
    folder.mkdir(parents=True)
    expected: dict[str, str] = {}
    rows = []
    for locale, code in list(message_catalogs.LANGUAGES.items())[:25]:
        for index, text in enumerate(catalog_docs(locale, limit=2)):
            rows.append({"id": f"{code}-{index}", "text": text})
            expected[f"{code}-{index}"] = code
    rows += [{"id": "empty", "text": ""}, {"id": "junk", "text": BINARY_JUNK}]
    random.Random(3).shuffle(rows)
    for part in range(3):
        lines = [json.dumps(row, ensure_ascii=False) for row in rows[part::3]]
        (folder / f"part-{part}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return expected


def langid_pipeline(corpus: Path, output: Path) -> Pipeline:
    return Pipeline(
        "langid",
        stages=[
            JsonlReader(str(corpus)),
            ScoreFilter(FastTextLangId(), score_field="language"),
            Modify(LangIdLanguageModifier(), text_field="language"),
            JsonlWriter(str(output)),
        ],
    )


def read_rows(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*.jsonl")):
        rows.extend(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    return rows


def test_language_id_pipeline_on_ray(tmp_path, shared_ray):
    expected = write_multilingual_corpus(tmp_path / "corpus")
    results = langid_pipeline(tmp_path / "corpus", tmp_path / "out").run(RayActorPoolExecutor())
    rows = read_rows(tmp_path / "out")
    found = {row["id"]: row["language"] for row in rows}
    assert set(found) <= set(expected)  # the empty and the junk document are gone
    assert len(found) >= len(expected) - 2  # a real document falls below 0.3 rarely
    wrong = {key: (lang, expected[key]) for key, lang in found.items() if lang != expected[key]}
    assert len(wrong) <= 1, wrong
    metrics = TaskPerfUtils.collect_stage_metrics(results)["ScoreFilter_lang_id"]
    assert metrics["custom.documents_in"].sum() == len(expected) + 2
    assert metrics["custom.removed_by_lang_id"].sum() == len(expected) + 2 - len(found)  # counted, not lost


def test_model_is_loaded_once_per_worker_in_setup(tmp_path, monkeypatch):
    write_multilingual_corpus(tmp_path / "corpus")
    loads: list[str] = []
    real_load = fasttext_filters.load_model

    def counting_load(path, *args, **kwargs):
        loads.append(path)
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(fasttext_filters, "load_model", counting_load)
    langid_pipeline(tmp_path / "corpus", tmp_path / "out").run(LocalExecutor())
    assert len(read_rows(tmp_path / "out")) >= 48
    assert loads == [bundled_langid_model_path()]  # three batches, one load (in setup)


def test_filters_pickle_without_their_native_model():
    langid = FastTextLangId()
    langid.load_model()
    copy = pickle.loads(pickle.dumps(langid))
    assert copy._model is None and copy.model_path == langid.model_path
    assert parse_langid_score(copy.score_document("Das ist ein ganz normaler deutscher Satz."))[1] == "de"


# -- bad model files --------------------------------------------------------------------------------


def test_missing_model_fails_at_construction_naming_the_path(tmp_path):
    missing = tmp_path / "nowhere" / "model.bin"
    with pytest.raises(ModelFileError, match=f"'{missing}' not found"):
        FastTextQualityFilter(str(missing))
    with pytest.raises(ModelFileError, match=f"'{missing}' not found"):
        FastTextLangId(model_path=str(missing))
    with pytest.raises(ValueError, match="model_path is required"):
        FastTextQualityFilter()


def test_corrupt_model_files_are_refused_naming_the_path(tmp_path):
    data = Path(bundled_langid_model_path()).read_bytes()
    cases = {
        "empty.bin": b"",
        "text.bin": b"this is not a model\n" * 10,
        "header_only.bin": data[:8],
        "truncated.bin": data[: len(data) // 2],
        "one_byte_short.bin": data[:-1],
        "trailing.bin": data + b"\0",
        "random.bin": bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)),
    }
    for name, content in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ModelFileError, match=str(path)):
            FastTextLangId(model_path=str(path))
    with pytest.raises(ModelFileError, match="is not a file"):
        FastTextLangId(model_path=str(tmp_path))


def test_word_vector_model_and_unknown_label_are_refused(tmp_path):
    fasttext = model_file.import_fasttext(training=True)
    text = tmp_path / "words.txt"
    text.write_text(" ".join(random.Random(0).choice("abc def ghi jkl mno".split()) for _ in range(2000)) + "\n")
    vectors = fasttext.train_unsupervised(str(text), dim=8, epoch=1, minCount=1, bucket=1000, thread=1, verbose=0)
    vectors.save_model(str(tmp_path / "vectors.bin"))
    with pytest.raises(ModelFileError, match="word vectors"):
        FastTextQualityFilter(str(tmp_path / "vectors.bin"))
    model = train_small_quality_model(tmp_path)
    with pytest.raises(ModelFileError, match="'__label__good' is not one of the labels"):
        FastTextQualityFilter(model, label="__label__good")


# -- quality classifier: training and filtering ------------------------------------------------------

SMALL = QualityTrainingParams(epoch=20, lr=1.0, dim=16, word_ngrams=1, min_count=2, bucket=0, threads=1)


def train_small_quality_model(tmp_path: Path, seed: int = 7) -> str:
    data = write_quality_training_data(tmp_path / "train", num_docs=300, seed=seed)
    return train_quality_classifier(data, tmp_path / "quality.bin", params=SMALL, seed=seed).model_path


def test_quality_classifier_separates_clean_text_from_junk(tmp_path):
    """Trained on one generated corpus, measured on another (different seed) through ScoreFilter."""
    data = write_quality_training_data(tmp_path / "train", num_docs=600, seed=1235)
    result = train_quality_classifier(data, tmp_path / "quality.bin", params=DEMO_PARAMS, seed=1235)
    assert result.scores is not None
    assert result.scores.precision >= 0.95 and result.scores.recall >= 0.95, result.scores

    test_docs = [d for d in make_documents(1500, seed=4321) if d["kind"] not in NOT_LEXICAL]
    table = pa.table({"text": [d["text"] for d in test_docs], "kind": [d["kind"] for d in test_docs]})
    stage = ScoreFilter(FastTextQualityFilter(result.model_path), score_field="quality")
    stage.setup()
    kept = stage.process(DocumentBatch(task_id="t", dataset_name="d", data=table)).to_pyarrow()
    kinds_in = Counter(d["kind"].startswith("junk_") for d in test_docs)
    kinds_kept = Counter(kind.startswith("junk_") for kind in kept.column("kind").to_pylist())
    precision = kinds_kept[False] / kept.num_rows  # kept documents that are clean
    recall = kinds_kept[False] / kinds_in[False]  # clean documents kept
    junk_removed = 1 - kinds_kept[True] / kinds_in[True]
    print(
        f"held-out classifier: precision {result.scores.precision:.3f} recall {result.scores.recall:.3f}; "
        f"filter: precision {precision:.3f} recall {recall:.3f} junk removed {junk_removed:.3f}"
    )
    assert recall >= 0.99
    # Pareto sampling keeps a junk document of score ~0 with probability 2**-3 = 1/8
    assert 0.75 <= junk_removed <= 0.97
    assert precision >= 0.97
    metrics = stage._consume_custom_metrics()
    assert metrics["removed_by_fasttext_quality_filter"] == table.num_rows - kept.num_rows


def test_pareto_decision_matches_nemo_curators_rule_and_is_deterministic(tmp_path):
    quality = FastTextQualityFilter(train_small_quality_model(tmp_path), alpha=3, seed=42)
    scores = np.full(40_000, 0.5)
    keep = quality.keep_documents(scores)
    # numpy's pareto is Lomax: P(X > 1 - s) = (2 - s) ** -alpha
    assert abs(keep.mean() - 1.5**-3) < 0.01
    assert np.array_equal(keep, quality.keep_documents(scores))  # same batch, same decisions
    assert quality.keep_documents(np.ones(1000)).all()


def test_training_is_reproducible_and_writes_atomically(tmp_path):
    first = Path(train_small_quality_model(tmp_path / "a"))
    second = Path(train_small_quality_model(tmp_path / "b"))
    assert first.read_bytes() == second.read_bytes()
    assert sorted(p.name for p in first.parent.iterdir()) == ["quality.bin", "train"]  # no temporary left


def test_bad_training_data_names_file_and_line(tmp_path):
    def train(lines: list[str], **kwargs):
        path = tmp_path / "data.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return train_quality_classifier(path, tmp_path / "m.bin", params=SMALL, **kwargs)

    good = [json.dumps({"text": f"fine words number {i}", "label": "hq" if i % 2 else "lq"}) for i in range(20)]
    with pytest.raises(TrainingDataError, match=r"data.jsonl, line 3: malformed JSON"):
        train([*good[:2], "{oops", *good[2:]])
    with pytest.raises(TrainingDataError, match=r"line 21: no 'label' field"):
        train([*good, json.dumps({"text": "x"})])
    with pytest.raises(TrainingDataError, match=r"line 1: label 'high quality' is empty or contains spaces"):
        train([json.dumps({"text": "x", "label": "high quality"})])
    with pytest.raises(TrainingDataError, match="at least two labels"):
        train([json.dumps({"text": "x", "label": "hq"})])
    with pytest.raises(TrainingDataError, match="positive label 'good' does not occur"):
        train(good, positive_label="good")
    result = train([*good, json.dumps({"text": "  \n ", "label": "hq"}), ""])
    assert result.skipped == {"empty_text": 1, "blank_line": 1}
    with pytest.raises(TrainingDataError, match="not found"):
        train_quality_classifier(tmp_path / "missing.jsonl", tmp_path / "m.bin")


def test_label_modifier_makes_fasttext_training_lines():
    modifier = FastTextLabelModifier("__label__hq")
    assert modifier.modify_document("Two\nlines with __label__lq inside") == "__label__hq Two lines with  lq inside"
    with pytest.raises(ValueError, match="__label__NAME"):
        FastTextLabelModifier("hq")
    assert LangIdLanguageModifier().modify_document("[0.97, 'en']") == "en"
    assert LangIdLanguageModifier().modify_document("fr") == "fr"
