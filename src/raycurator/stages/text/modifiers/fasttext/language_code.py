"""`LangIdLanguageModifier`: the language code out of a `FastTextLangId` score column."""

from __future__ import annotations

import ast

from raycurator.stages.text.modifiers.doc_modifier import DocumentModifier


class LangIdLanguageModifier(DocumentModifier):
    """Rewrites a `FastTextLangId` score (`"[0.97, 'en']"`) as its language code (`en`).

    Use it in `Modify` on the score column: `Modify(LangIdLanguageModifier(), text_field="language")`.
    A value that is already a bare code is left as it is.
    """

    def modify_document(self, text: str) -> str:
        value = text.strip()
        if not value.startswith("["):
            return value
        try:
            pair = ast.literal_eval(value)
        except (ValueError, SyntaxError) as error:
            raise ValueError(f"LangIdLanguageModifier: not a language-ID score: {text!r}") from error
        if not (isinstance(pair, list | tuple) and len(pair) == 2):
            raise ValueError(f"LangIdLanguageModifier: not a [score, language] pair: {text!r}")
        return str(pair[1])
