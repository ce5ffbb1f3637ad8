"""The kinds of personal data `PiiRedactor` finds, what it does with them, and found spans."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class PiiEntity(StrEnum):
    """An entity type; its value is the tag written by the `replace` action (`<EMAIL>`)."""

    EMAIL = "EMAIL"
    PHONE = "PHONE"
    IP_ADDRESS = "IP_ADDRESS"
    CREDIT_CARD = "CREDIT_CARD"
    IBAN = "IBAN"
    US_SSN = "US_SSN"
    URL_CREDENTIALS = "URL_CREDENTIALS"
    SECRET = "SECRET"
    PERSON = "PERSON"
    LOCATION = "LOCATION"

    @property
    def needs_ner(self) -> bool:
        """Whether finding it needs the optional named-entity recogniser (Presidio + spaCy)."""
        return self in NER_ENTITIES


#: Found with regular expressions and validators (on by default).
PATTERN_ENTITIES = (
    PiiEntity.EMAIL,
    PiiEntity.PHONE,
    PiiEntity.IP_ADDRESS,
    PiiEntity.CREDIT_CARD,
    PiiEntity.IBAN,
    PiiEntity.US_SSN,
    PiiEntity.URL_CREDENTIALS,
    PiiEntity.SECRET,
)
#: Found by Presidio with a spaCy model (off by default).
NER_ENTITIES = (PiiEntity.PERSON, PiiEntity.LOCATION)


class RedactionAction(StrEnum):
    """What replaces a found entity."""

    REPLACE = "replace"  # the type tag, `<EMAIL>`
    HASH = "hash"  # the tag plus a salted hash of the value, `<EMAIL:3f9a...>`: equal values, equal tags
    REMOVE = "remove"  # nothing


@dataclass(frozen=True, order=True)
class PiiSpan:
    """`text[start:end]` is an entity of type `entity`."""

    start: int
    end: int
    entity: PiiEntity
