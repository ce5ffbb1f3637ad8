"""`PiiRedactor`: finds personal data in a text column and replaces, hashes or removes it."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections import Counter
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from raycurator.stages.base import ProcessingStage
from raycurator.stages.text._batch import require_document_batch, set_column, with_table
from raycurator.stages.text.pii.entities import (
    NER_ENTITIES,
    PATTERN_ENTITIES,
    PiiEntity,
    PiiSpan,
    RedactionAction,
)
from raycurator.stages.text.pii.ner import PresidioNer
from raycurator.stages.text.pii.patterns import find_pattern_entities, resolve_overlaps
from raycurator.tasks import DocumentBatch

#: Environment variable read for the hashing salt when none is given.
SALT_ENV = "RAYCURATOR_PII_SALT"


class _Salt:
    """Holds the hashing key; its repr never shows it (stage fingerprints and logs see `<salt>`)."""

    __slots__ = ("value",)

    def __init__(self, value: bytes) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "<salt>"

    def __getstate__(self) -> bytes:
        return self.value

    def __setstate__(self, state: bytes) -> None:
        self.value = state


def _entities(values: Iterable[str | PiiEntity] | None) -> tuple[PiiEntity, ...]:
    if values is None:
        return PATTERN_ENTITIES
    try:
        chosen = tuple(dict.fromkeys(PiiEntity(str(v).upper()) for v in values))
    except ValueError as error:
        raise ValueError(f"PiiRedactor: {error}; entity types: {[e.value for e in PiiEntity]}") from None
    if not chosen:
        raise ValueError("PiiRedactor: entities must name at least one entity type")
    return chosen


class PiiRedactor(ProcessingStage[DocumentBatch, DocumentBatch]):
    """Redacts personal data in `text_field` (the result replaces it, or goes to `output_field`).

    `entities`: the types to find (default: every pattern type, `PATTERN_ENTITIES`); PERSON and
    LOCATION need `use_ner=True` (Presidio + spaCy, off by default). `action`: `replace` writes
    `<TYPE>`, `hash` writes `<TYPE:hash>` (HMAC-SHA256 of the value with the salt, 16 hex digits:
    the same value gives the same tag in every worker of a run), `remove` deletes it. The salt is
    `salt`, else `$RAYCURATOR_PII_SALT`, else random per pipeline object; give one to keep tags
    equal across runs (and resumed runs). The salt never appears in reprs, logs or fingerprints.
    Custom metrics: `pii.<TYPE>` (entities found per type), `documents_redacted`.
    """

    def __init__(
        self,
        text_field: str = "text",
        entities: list[str] | None = None,
        action: str = "replace",
        salt: str | None = None,
        use_ner: bool = False,
        spacy_model: str | None = None,
        ner_score_threshold: float = 0.5,
        output_field: str | None = None,
    ) -> None:
        self.text_field = text_field
        self.output_field = output_field
        try:
            self.action = RedactionAction(action)
        except ValueError:
            raise ValueError(
                f"PiiRedactor: action must be one of {[a.value for a in RedactionAction]}, got {action!r}"
            ) from None
        default = entities is None
        self.entities = _entities(entities) + (NER_ENTITIES if default and use_ner else ())
        wants_ner = tuple(e for e in self.entities if e.needs_ner)
        if wants_ner and not use_ner:
            raise ValueError(f"PiiRedactor: {[e.value for e in wants_ner]} need use_ner=True (Presidio + spaCy)")
        self.use_ner = use_ner
        self._ner = PresidioNer(wants_ner, spacy_model, ner_score_threshold) if wants_ner else None
        key = salt if salt is not None else os.environ.get(SALT_ENV)
        self._salt = _Salt(key.encode("utf-8") if key else secrets.token_bytes(32))
        self._name = "pii_redactor"

    def inputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.text_field]

    def outputs(self) -> tuple[list[str], list[str]]:
        return ["data"], [self.output_field or self.text_field]

    def setup(self, worker_metadata: Any = None) -> None:
        if self._ner is not None:
            self._ner.load()

    def find(self, text: str) -> list[PiiSpan]:
        """The non-overlapping entity spans of `text`, in order."""
        pattern_types = tuple(e for e in self.entities if not e.needs_ner)
        spans = find_pattern_entities(text, pattern_types)
        if self._ner is not None:
            spans.extend(self._ner.find(text))
        return resolve_overlaps(spans)

    def replacement(self, entity: PiiEntity, value: str) -> str:
        """What `value`, an entity of type `entity`, becomes."""
        if self.action is RedactionAction.REMOVE:
            return ""
        if self.action is RedactionAction.HASH:
            digest = hmac.new(self._salt.value, f"{entity.value}\x00{value}".encode(), hashlib.sha256).hexdigest()
            return f"<{entity.value}:{digest[:16]}>"
        return f"<{entity.value}>"

    def redact(self, text: str) -> tuple[str, list[PiiSpan]]:
        """`text` redacted, and the spans that were redacted."""
        spans = self.find(text)
        if not spans:
            return text, spans
        parts: list[str] = []
        position = 0
        for span in spans:
            parts.append(text[position : span.start])
            parts.append(self.replacement(span.entity, text[span.start : span.end]))
            position = span.end
        parts.append(text[position:])
        return "".join(parts), spans

    def process(self, task: DocumentBatch) -> DocumentBatch:
        table = require_document_batch(self.name, task).to_pyarrow()
        counts: Counter[PiiEntity] = Counter()
        redacted: list[str | None] = []
        changed = 0
        for text in table[self.text_field].to_pylist():
            if text is None:
                redacted.append(None)
                continue
            new_text, spans = self.redact(text)
            counts.update(span.entity for span in spans)
            changed += bool(spans)
            redacted.append(new_text)
        metrics = {f"pii.{entity.value}": float(counts.get(entity, 0)) for entity in self.entities}
        metrics["documents_redacted"] = changed
        self._log_metrics(metrics)
        column = pa.array(redacted, type=pa.string())
        return with_table(task, set_column(table, self.output_field or self.text_field, column))
