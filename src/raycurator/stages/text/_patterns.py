"""Regular expressions shared by filters and modifiers (RE2 syntax, usable by pyarrow.compute)."""

#: URLs: a scheme or "www." followed by non-space characters.
URL_PATTERN = r"(?i)(?:https?://|ftp://|www\.)[^\s<>\"']+"
