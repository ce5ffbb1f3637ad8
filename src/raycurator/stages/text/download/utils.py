"""Decoding HTML bytes and detecting a page's language, as NeMo Curator does for Common Crawl.

Language: CLD2 (`pycld2`, Google's compact language detector used by Chromium), the detector
NeMo Curator uses here; its upper-case language names key the stop lists. Charset: UTF-8
first, then `charset-normalizer`'s detection.
"""

from __future__ import annotations

import unicodedata

import pycld2
from charset_normalizer import detect as detect_charset


def remove_control_characters(text: str) -> str:
    """`text` without Unicode control (category C*) characters."""
    return "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")


def lang_detect(text: str) -> str:
    """The most likely language of `text`, as CLD2's upper-case name (`ENGLISH`, `GERMAN`, `UNKNOWN`...)."""
    try:
        _, _, details = pycld2.detect(text)
    except pycld2.error:
        _, _, details = pycld2.detect(remove_control_characters(text))
    return details[0][0].upper()


def decode_html(html_bytes: bytes) -> str | None:
    """`html_bytes` as text: UTF-8, else the detected charset; None when neither decodes it."""
    try:
        return html_bytes.decode("utf-8")
    except UnicodeDecodeError:
        return try_decode_with_detected_encoding(html_bytes)


def try_decode_with_detected_encoding(html_bytes: bytes) -> str | None:
    """`html_bytes` decoded with the charset `charset-normalizer` detects (None if none fits)."""
    encoding = detect_charset(html_bytes).get("encoding")
    if not encoding or encoding.lower().replace("_", "-") == "utf-8":
        return None
    try:
        return html_bytes.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None
