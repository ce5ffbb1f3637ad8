"""`NewlineNormalizer`: collapses runs of blank lines."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

from raycurator.stages.text._arrow_text import to_string_array
from raycurator.stages.text.modifiers.doc_modifier import VectorizedModifier

# Three or more line breaks, possibly with spaces/tabs on the blank lines between them.
_UNIX_RUN = r"\n(?:[ \t]*\n){2,}"
_WINDOWS_RUN = r"\r\n(?:[ \t]*\r\n){2,}"


class NewlineNormalizer(VectorizedModifier):
    """Replaces three or more consecutive line breaks (blank lines may hold spaces or tabs) by two."""

    def modify_documents(self, texts: pa.Array | pa.ChunkedArray | Iterable[str]) -> pa.Array:
        out = pc.replace_substring_regex(to_string_array(texts), _WINDOWS_RUN, "\r\n\r\n")
        return pc.replace_substring_regex(out, _UNIX_RUN, "\n\n")
