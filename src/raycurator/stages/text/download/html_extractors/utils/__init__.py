"""Stop lists per language, keyed by the upper-case language names that CLD2 reports."""

from __future__ import annotations

from functools import lru_cache

import justext

from raycurator.stages.text.download.html_extractors.utils.cjk_stopwords import (
    ja_stopwords,
    th_stopwords,
    zh_stopwords,
)

#: jusText stop-list names whose CLD2 language name differs from `name.upper()`.
_CLD2_NAMES = {
    "Haitian": "HAITIAN_CREOLE",
    "Norwegian_Bokmal": "NORWEGIAN",
    "Norwegian_Nynorsk": "NORWEGIAN_N",
    "Waray_Waray": "WARAY_PHILIPPINES",
}
#: Languages jusText has no list for, with lists of their own.
_EXTRA = {"THAI": th_stopwords, "CHINESE": zh_stopwords, "JAPANESE": ja_stopwords}


def get_stop_list_dict(languages: list[str] | None = None) -> dict[str, frozenset[str]]:
    """`{LANGUAGE: stop words}` for `languages` (jusText names), or for all of jusText's lists
    except Latin (which lets through much low-quality text) plus Thai, Chinese and Japanese."""
    return dict(_stop_lists(tuple(languages or ())))


@lru_cache(maxsize=8)
def _stop_lists(languages: tuple[str, ...]) -> dict[str, frozenset[str]]:
    if not languages:
        languages = tuple(name for name in sorted(justext.get_stoplists()) if name != "Latin") + tuple(_EXTRA)
    result: dict[str, frozenset[str]] = {}
    for name in languages:
        key = _CLD2_NAMES.get(name, name.upper())
        result[key] = _EXTRA[key] if key in _EXTRA else justext.get_stoplist(name)
    return result
