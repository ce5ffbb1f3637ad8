"""PiiRedactor: each entity type, actions, metrics, secrecy of the salt, measured recall/false positives."""

from __future__ import annotations

import importlib.util
import json
import pickle
import random
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from raycurator.backends.checkpoint import pipeline_fingerprint
from raycurator.backends.ray_actor_pool import RayActorPoolExecutor
from raycurator.pipeline import Pipeline
from raycurator.stages.text.io.reader import JsonlReader
from raycurator.stages.text.io.writer import JsonlWriter
from raycurator.stages.text.pii import PiiEntity, PiiRedactor
from raycurator.stages.text.pii.ner import ner_available
from raycurator.stages.text.pii.patterns import iban_valid, luhn_valid
from raycurator.tasks import DocumentBatch
from raycurator.tasks.utils import TaskPerfUtils

ROOT = Path(__file__).resolve().parents[4]


def bench_module():
    spec = importlib.util.spec_from_file_location("bench_pii_redaction", ROOT / "benchmarks" / "bench_pii_redaction.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_pii_redaction", module)
    spec.loader.exec_module(module)
    return module


EXAMPLES = {
    PiiEntity.EMAIL: ("write to jane.doe+x@mail.example.org today", "jane.doe+x@mail.example.org"),
    PiiEntity.PHONE: ("call (415) 555-0132 now", "(415) 555-0132"),
    PiiEntity.IP_ADDRESS: ("from 203.0.113.77 and 2001:db8::ff00:42:8329.", "203.0.113.77"),
    PiiEntity.CREDIT_CARD: ("card 4111-1111-1111-1111 expired", "4111-1111-1111-1111"),
    PiiEntity.IBAN: ("pay GB82 WEST 1234 5698 7654 32 please", "GB82 WEST 1234 5698 7654 32"),
    PiiEntity.US_SSN: ("SSN 078-05-1120 on file", "078-05-1120"),
    PiiEntity.URL_CREDENTIALS: ("clone https://bob:s3cr3t@git.example.com/r.git", "bob:s3cr3t"),
    PiiEntity.SECRET: ("key AKIAIOSFODNN7EXAMPLE leaked", "AKIAIOSFODNN7EXAMPLE"),
}


@pytest.mark.parametrize("entity", list(EXAMPLES))
def test_each_entity_type_is_replaced_by_its_tag_and_can_be_turned_off(entity):
    text, value = EXAMPLES[entity]
    redacted, spans = PiiRedactor().redact(text)
    assert value not in redacted and f"<{entity.value}>" in redacted
    assert entity in {s.entity for s in spans}
    others = [e.value for e in EXAMPLES if e is not entity]
    assert PiiRedactor(entities=others).redact(text)[0].count(value) == 1  # its type off: left alone


def test_validators_reject_bad_checksums():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("DE89370400440532013000") and not iban_valid("DE88370400440532013000")
    text = "card 4111 1111 1111 1112, iban DE88 3704 0044 0532 0130 00, ssn 666-12-3456, 000-12-3456, v1.2.3.4"
    assert PiiRedactor().redact(text) == (text, [])


def test_hash_is_salted_and_consistent_and_remove_deletes():
    text = "a@example.com wrote to b@example.com and a@example.com again"
    hashed, _ = PiiRedactor(action="hash", salt="s1").redact(text)
    tags = hashed.replace(" wrote to ", "|").replace(" and ", "|").replace(" again", "").split("|")
    assert tags[0] == tags[2] != tags[1] and tags[0].startswith("<EMAIL:")
    clone = pickle.loads(pickle.dumps(PiiRedactor(action="hash", salt="s1")))  # as a worker gets it
    assert clone.redact(text)[0] == hashed
    assert PiiRedactor(action="hash", salt="s2").redact(text)[0] != hashed
    random_salt = PiiRedactor(action="hash")
    assert pickle.loads(pickle.dumps(random_salt)).redact(text)[0] == random_salt.redact(text)[0]
    assert PiiRedactor(action="remove").redact("mail a@example.com now")[0] == "mail  now"
    with pytest.raises(ValueError, match="action must be one of"):
        PiiRedactor(action="mask")
    with pytest.raises(ValueError, match="entity types"):
        PiiRedactor(entities=["EMAILS"])
    with pytest.raises(ValueError, match="use_ner=True"):
        PiiRedactor(entities=["PERSON"])


def test_salt_never_reaches_fingerprints_or_reprs(monkeypatch):
    monkeypatch.setenv("RAYCURATOR_PII_SALT", "from-the-environment")
    stage = PiiRedactor(action="hash")
    described = json.dumps(pipeline_fingerprint([stage]), default=str) + repr(vars(stage)) + str(stage.describe())
    assert "from-the-environment" not in described
    assert PiiRedactor(action="hash", salt="from-the-environment").redact("x@example.com")[0] == stage.redact(
        "x@example.com"
    )[0]


def test_recall_and_false_positives_on_the_labelled_set():
    bench = bench_module()
    documents = bench.labelled_documents(800, seed=3)
    rng = random.Random(3)
    near = [text for _ in range(10) for text in bench.near_misses(rng)]
    figures = bench.evaluate(PiiRedactor(salt="t"), documents, bench.real_texts())
    for entity in EXAMPLES:
        row = figures[entity.value]
        assert row["gold"] == 100 and row["recall"] >= 0.95, (entity, row)
        assert row["fp_templates"] == 0, (entity, row)
        # the license texts hold no personal data except one company phone number (printed 3 times)
        assert row["fp_negatives"] <= (3 if entity is PiiEntity.PHONE else 0), (entity, row)
    assert figures["_negatives"]["characters"] > 100_000
    assert [t for t in near if PiiRedactor().find(t)] == []


def test_pipeline_on_ray_counts_entities_per_type_with_one_salt(tmp_path, shared_ray):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for part in range(2):
        rows = [
            {"text": f"doc {part}: contact ops@example.com or (212) 555-0{part}99."},
            {"text": "nothing personal here"},
            {"text": "token ghp_" + "a1B2c3D4e5" * 4 + " and 10.0.0.1"},
        ]
        (corpus / f"p{part}.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    stages = [JsonlReader(str(corpus)), PiiRedactor(action="hash"), JsonlWriter(str(tmp_path / "out"))]
    results = Pipeline("pii", stages=stages).run(RayActorPoolExecutor())
    metrics = TaskPerfUtils.collect_stage_metrics(results)["pii_redactor"]
    assert metrics["custom.pii.EMAIL"].sum() == 2 and metrics["custom.pii.PHONE"].sum() == 2
    assert metrics["custom.pii.SECRET"].sum() == 2 and metrics["custom.pii.IP_ADDRESS"].sum() == 2
    assert metrics["custom.pii.IBAN"].sum() == 0 and metrics["custom.documents_redacted"].sum() == 4
    texts = [json.loads(line)["text"] for p in sorted((tmp_path / "out").glob("*.jsonl")) for line in p.open()]
    assert "ops@example.com" not in "".join(texts) and "nothing personal here" in texts
    email_tags = {t.split("contact ")[1].split(" ")[0] for t in texts if "contact" in t}
    assert len(email_tags) == 1  # both workers hashed the same address to the same tag


@pytest.mark.skipif(not ner_available(), reason="presidio-analyzer and a spaCy English model are not installed")
def test_named_entities_with_presidio_and_spacy():
    redactor = PiiRedactor(entities=["PERSON", "LOCATION", "EMAIL"], use_ner=True)
    redactor.setup()
    text = "Yesterday Angela Merkel flew from Berlin to Paris and wrote to press@example.com about it."
    redacted, spans = redactor.redact(text)
    assert {s.entity for s in spans} == {PiiEntity.PERSON, PiiEntity.LOCATION, PiiEntity.EMAIL}
    assert "Merkel" not in redacted and "Berlin" not in redacted and "<LOCATION>" in redacted
    batch = DocumentBatch(task_id="t", dataset_name="d", data=pa.table({"text": [text, "The sky is blue today."]}))
    out = redactor.process(batch)
    assert out.to_pyarrow()["text"].to_pylist()[1] == "The sky is blue today."
    assert PiiRedactor().entities == tuple(e for e in PiiEntity if not e.needs_ner)  # NER off by default
