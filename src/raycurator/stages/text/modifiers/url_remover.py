"""`UrlRemover`: deletes URLs from the text."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.text._arrow_text import to_string_array
from raycurator.stages.text._patterns import URL_PATTERN
from raycurator.stages.text.modifiers.doc_modifier import VectorizedModifier


class UrlRemover(VectorizedModifier):
    """Removes every URL (a scheme or "www." followed by non-space characters)."""

    def modify_documents(self, texts: pa.Array | pa.ChunkedArray | Iterable[str]) -> pa.Array:
        return pc.replace_substring_regex(to_string_array(texts), URL_PATTERN, "")
