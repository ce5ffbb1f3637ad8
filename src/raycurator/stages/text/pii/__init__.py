"""PII redaction: `PiiRedactor` and the entity types it finds."""

from raycurator.stages.text.pii.entities import NER_ENTITIES, PATTERN_ENTITIES, PiiEntity, PiiSpan, RedactionAction
from raycurator.stages.text.pii.redactor import PiiRedactor

__all__ = ["NER_ENTITIES", "PATTERN_ENTITIES", "PiiEntity", "PiiRedactor", "PiiSpan", "RedactionAction"]
