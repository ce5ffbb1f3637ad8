"""Character classes, marks and phrase lists the text filters share (NeMo Curator's values).

The values are data that the filters' scores depend on, so they equal NeMo Curator 1.4's
(`nemo_curator.stages.text.utils.constants`) exactly; see docs/text-filters.md.
"""

from __future__ import annotations

import re

import regex

#: What a line ending with punctuation ends with (C4 / NeMo Curator).
end_marks = (".", "?", "!", '"', "'")
#: Whole-word or line-final ellipsis forms.
ellipsis_marks = {"...", "[...]", "\u2026", "(...)", "[\u2026]", "-\u00bb", "read more..", "read more"}
_COOKIE_NOTICES = (
    "This website uses cookies to improve your experience while you navigate through the website. Out of "
    "these cookies, the cookies that are categorized as necessary are stored on your browser as they are "
    "essential for the working of basic functionalities of the website. We also use third-party cookies "
    "that help us analyze and understand how you use this website. These cookies will be stored in your "
    "browser only with your consent. You also have the option to opt-out of these cookies. But opting out "
    "of some of these cookies may have an effect on your browsing experience.",
    "Necessary cookies are absolutely essential for the website to function properly. This category only "
    "includes cookies that ensures basic functionalities and security features of the website. These "
    "cookies do not store any personal information.",
    "Any cookies that may not be particularly necessary for the website to function and is used "
    "specifically to collect user personal data via analytics, ads, other embedded contents are termed as "
    "non-necessary cookies. It is mandatory to procure user consent prior to running these cookies on your "
    "website.",
    "This site uses cookies, including for analytics, personalization, and advertising purposes. For more "
    "information or to change your cookie settings, click here.",
    "If you continue to browse this site without changing your cookie settings, you agree to this use. "
    "AcceptRead More",
)
#: Lower-case phrases that mark policy / cookie boilerplate (C4, extended by NeMo Curator).
policy_substrings = [
    "terms of use",
    "privacy policy",
    "cookie policy",
    "uses cookies",
    "privacy overview",
    "use of cookies",
    "use cookies",
    "privacy & cookies policy",
    "privacy and cookies policy",
    *(notice.lower() for notice in _COOKIE_NOTICES),
]
#: The characters `WhiteSpaceFilter` counts (tab, newline, carriage return, backspace, space).
white_space_list = ["\t", "\n", "\r", "\b", " "]
#: Gopher's stop words.
common_english_words = {"the", "be", "to", "of", "and", "that", "have", "with"}
#: Bullet characters that start a bulleted line ("-" and "*" are not among them).
bullet_list = {
    "\u2022", "\u2023", "\u2043", "\u204c", "\u204d", "\u2219",
    "\u25cb", "\u25cf", "\u25d8", "\u25e6", "\u29be", "\u29bf",
}  # fmt: skip

#: A letter: the Unicode Alphabetic property (POSIX class of the `regex` module).
regex_alpha = regex.compile("[[:alpha:]]")
#: An ASCII digit (the `regex` module's POSIX digit class).
regex_digit = regex.compile("[[:digit:]]")
#: What `NonAlphaNumericFilter` counts as alphanumeric: ASCII letters and digits, newline and ?!,.
regex_alphanum = re.compile("[a-zA-Z0-9\n?!,.]")
#: An http(s) URL.
regex_url = re.compile(r"https?://(?:[A-Za-z0-9$\-_@.&+/:=?#~]|[!*\(\),]|(?:%[0-9A-Fa-f]{2}))+")
#: Brackets of every kind `ParenthesesFilter` counts.
regex_paren = re.compile(r"{|}|\u27e8|\u27e9|\[|\]|\(|\)")
#: A run of hash signs.
regex_hash = re.compile("#+")
