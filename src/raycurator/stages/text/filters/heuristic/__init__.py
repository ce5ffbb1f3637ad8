"""Heuristic document filters of the Gopher, C4 and FineWeb families (NeMo Curator names)."""

from raycurator.stages.text.filters.heuristic.characters import (
    NonAlphaNumericFilter,
    NumbersFilter,
    ParenthesesFilter,
    SymbolsToWordsFilter,
    UrlsFilter,
    WhiteSpaceFilter,
)
from raycurator.stages.text.filters.heuristic.lines import (
    BoilerPlateStringFilter,
    BulletsFilter,
    EllipsisFilter,
    PunctuationFilter,
)
from raycurator.stages.text.filters.heuristic.markers import (
    CurlyBracketFilter,
    JavascriptFilter,
    LoremIpsumFilter,
    SubstringFilter,
)
from raycurator.stages.text.filters.heuristic.repetition import (
    RepeatedLinesByCharFilter,
    RepeatedLinesFilter,
    RepeatedParagraphsByCharFilter,
    RepeatedParagraphsFilter,
    RepeatingDuplicateNGramsFilter,
    RepeatingTopNGramsFilter,
)
from raycurator.stages.text.filters.heuristic.words import (
    CommonEnglishWordsFilter,
    LongWordFilter,
    MeanWordLengthFilter,
    WordCountFilter,
    WordsWithoutAlphabetsFilter,
)

__all__ = [
    "BoilerPlateStringFilter",
    "BulletsFilter",
    "CommonEnglishWordsFilter",
    "CurlyBracketFilter",
    "EllipsisFilter",
    "JavascriptFilter",
    "LongWordFilter",
    "LoremIpsumFilter",
    "MeanWordLengthFilter",
    "NonAlphaNumericFilter",
    "NumbersFilter",
    "ParenthesesFilter",
    "PunctuationFilter",
    "RepeatedLinesByCharFilter",
    "RepeatedLinesFilter",
    "RepeatedParagraphsByCharFilter",
    "RepeatedParagraphsFilter",
    "RepeatingDuplicateNGramsFilter",
    "RepeatingTopNGramsFilter",
    "SubstringFilter",
    "SymbolsToWordsFilter",
    "UrlsFilter",
    "WhiteSpaceFilter",
    "WordCountFilter",
    "WordsWithoutAlphabetsFilter",
]
