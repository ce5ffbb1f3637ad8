"""Finding personal data with regular expressions plus validators.

Each entity type has one finder, `text -> [(start, end)]`; validators cut false positives:
Luhn and issuer prefixes for card numbers, ISO 13616 length and mod-97 for IBANs, the SSA's
rules for US SSNs, `ipaddress` for IP addresses, digit counts for phone numbers, and a
character-class/entropy check for values assigned to key-like names.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator

from raycurator.stages.text.pii.entities import PiiEntity, PiiSpan

Finder = Callable[[str], Iterator[tuple[int, int]]]

# -- e-mail -------------------------------------------------------------------------------------
_EMAIL = re.compile(
    r"(?:(?<=mailto:)|(?<![\w.%+:/-]))[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
    r"[A-Za-z]{2,24}(?![\w-])"
)


def find_emails(text: str) -> Iterator[tuple[int, int]]:
    for match in _EMAIL.finditer(text):
        yield match.span()


# -- phone numbers --------------------------------------------------------------------------------
_PHONE = re.compile(
    r"(?<![\w+.-])(?P<cc>\+\d{1,3}[ .-]?)?(?:\((?P<area>\d{1,5})\)[ .-]?)?"
    r"\d{1,5}(?:[ .-]\d{2,8}){1,5}(?![\w]|[.-]\d)"
)
_YEAR = re.compile(r"(?:19|20)\d\d")


def find_phones(text: str) -> Iterator[tuple[int, int]]:
    for match in _PHONE.finditer(text):
        value = match.group(0)
        digits = sum(c.isdigit() for c in value)
        formatted = match.group("cc") is not None or match.group("area") is not None
        groups = re.findall(r"\d+", value)
        if not (10 <= digits <= 15 or (formatted and 8 <= digits <= 15)):
            continue
        if not formatted:
            separators = set(re.findall(r"[ .-]", value))
            if len(separators) > 1 or len(groups[-1]) < 3 or not 2 <= len(groups[0]) <= 4 or max(map(len, groups)) > 4:
                continue
            if all(len(g) == 4 and _YEAR.fullmatch(g) for g in groups):
                continue  # a list of years
        yield match.span()


# -- IP addresses ---------------------------------------------------------------------------------
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)")
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{1,4}:){1,7}(?::|(?::[0-9A-Fa-f]{1,4}){1,7}|[0-9A-Fa-f]{1,4})(?![\w:])"
    r"|(?<![\w:.])::(?:[0-9A-Fa-f]{1,4}:){0,6}[0-9A-Fa-f]{1,4}(?![\w:])"
)


def find_ip_addresses(text: str) -> Iterator[tuple[int, int]]:
    for match in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(match.group(0))
        except ValueError:
            continue
        yield match.span()
    for match in _IPV6.finditer(text):
        value = match.group(0)
        try:
            ipaddress.IPv6Address(value)
        except ValueError:
            continue
        if sum(c in "0123456789abcdefABCDEF" for c in value) >= 3:
            yield match.span()


# -- payment card numbers -------------------------------------------------------------------------
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w]|-\d)")
_CARD_PREFIX = re.compile(r"4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|3(?:0[0-5]|[68])|6(?:011|5|4[4-9])|35")


#: How card numbers are grouped when written with separators.
_CARD_GROUPS = {(4, 4, 4, 4), (4, 6, 5), (4, 6, 4), (4, 4, 4, 4, 3), (4, 4, 4, 1), (4, 4, 4, 2), (4, 4, 4, 3)}


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn checksum."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def find_credit_cards(text: str) -> Iterator[tuple[int, int]]:
    for match in _CARD.finditer(text):
        value = match.group(0)
        digits = re.sub(r"\D", "", value)
        if len(set(re.findall(r"[ -]", value))) > 1 or len(set(digits)) < 2:
            continue
        groups = tuple(len(g) for g in re.findall(r"\d+", value))
        if len(groups) > 1 and groups not in _CARD_GROUPS:
            continue
        if 13 <= len(digits) <= 19 and _CARD_PREFIX.match(digits) and luhn_valid(digits):
            yield match.span()


# -- IBANs ----------------------------------------------------------------------------------------
#: ISO 13616 IBAN length per country.
IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BR": 29,
    "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28, "EE": 20, "EG": 29,
    "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27, "GT": 28,
    "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27, "JO": 30, "KW": 30, "KZ": 20,
    "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19,
    "MR": 27, "MT": 31, "MU": 30, "NL": 18, "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29,
    "RO": 24, "RS": 22, "SA": 24, "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip
_IBAN = re.compile(r"(?<![A-Za-z0-9])([A-Z]{2})(\d{2})((?: ?[A-Z0-9]){10,30})")


def iban_valid(compact: str) -> bool:
    """Whether a space-free IBAN has its country's length and a valid mod-97 check."""
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def find_ibans(text: str) -> Iterator[tuple[int, int]]:
    for match in _IBAN.finditer(text):
        length = IBAN_LENGTHS.get(match.group(1))
        if length is None:
            continue
        count, end = 0, match.start()
        for index in range(match.start(), match.end()):  # the first `length` characters, spaces skipped
            if text[index] != " ":
                count += 1
                if count == length:
                    end = index + 1
                    break
        if count < length or (end < len(text) and text[end].isalnum()):
            continue
        if iban_valid(text[match.start() : end].replace(" ", "")):
            yield match.start(), end


# -- US social security numbers -------------------------------------------------------------------
_SSN = re.compile(r"(?<![\w-])(\d{3})([- ])(\d{2})\2(\d{4})(?![\w]|-\d)")


def find_us_ssns(text: str) -> Iterator[tuple[int, int]]:
    for match in _SSN.finditer(text):
        area, _, group, serial = match.groups()
        if area in ("000", "666") or area.startswith("9") or group == "00" or serial == "0000":
            continue
        yield match.span()


# -- credentials in URLs ----------------------------------------------------------------------------
_URL_CREDENTIALS = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{1,15}://([^\s/:@]+):([^\s/@]+)@[\w.-]")


def find_url_credentials(text: str) -> Iterator[tuple[int, int]]:
    for match in _URL_CREDENTIALS.finditer(text):
        yield match.start(1), match.end(2)


# -- secrets ----------------------------------------------------------------------------------------
_KNOWN_SECRETS = re.compile(
    r"(?<![\w-])(?:"
    r"(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key id
    r"|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}"  # GitHub tokens
    r"|xox[abposr]-[A-Za-z0-9-]{10,250}"  # Slack tokens
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,99}"  # Stripe keys
    r"|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,200}"  # OpenAI / Anthropic style keys
    r"|glpat-[A-Za-z0-9_-]{20}"  # GitLab token
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"  # JSON web token
    r")(?![\w-])"
    r"|-----BEGIN (?:[A-Z]+ )*PRIVATE KEY-----[\s\S]{16,}?-----END (?:[A-Z]+ )*PRIVATE KEY-----"
)
_ASSIGNED_SECRET = re.compile(
    r"(?i)\b(?:api[_-]?key|apikey|secret(?:[_-]?key)?|access[_-]?token|auth[_-]?token|bearer|password|passwd|pwd"
    r"|client[_-]?secret|private[_-]?key)[\"']?\s*(?:[:=]|=>|\s)\s*[\"']?([A-Za-z0-9_\-+/=.~]{12,200})"
)


def _looks_random(value: str) -> bool:
    classes = sum(any(f(c) for c in value) for f in (str.islower, str.isupper, str.isdigit))
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return classes >= 2 and any(c.isdigit() for c in value) and entropy >= 3.0


def find_secrets(text: str) -> Iterator[tuple[int, int]]:
    for match in _KNOWN_SECRETS.finditer(text):
        yield match.span()
    for match in _ASSIGNED_SECRET.finditer(text):
        if _looks_random(match.group(1)):
            yield match.span(1)


#: The finder of each pattern entity type.
FINDERS: dict[PiiEntity, Finder] = {
    PiiEntity.EMAIL: find_emails,
    PiiEntity.PHONE: find_phones,
    PiiEntity.IP_ADDRESS: find_ip_addresses,
    PiiEntity.CREDIT_CARD: find_credit_cards,
    PiiEntity.IBAN: find_ibans,
    PiiEntity.US_SSN: find_us_ssns,
    PiiEntity.URL_CREDENTIALS: find_url_credentials,
    PiiEntity.SECRET: find_secrets,
}

#: When spans overlap, the type listed first wins (more specific and validated types first).
PRIORITY = (
    PiiEntity.SECRET,
    PiiEntity.URL_CREDENTIALS,
    PiiEntity.IBAN,
    PiiEntity.CREDIT_CARD,
    PiiEntity.US_SSN,
    PiiEntity.EMAIL,
    PiiEntity.IP_ADDRESS,
    PiiEntity.PHONE,
    PiiEntity.PERSON,
    PiiEntity.LOCATION,
)


def find_pattern_entities(text: str, entities: tuple[PiiEntity, ...]) -> list[PiiSpan]:
    """Every span of the requested pattern entity types in `text` (may overlap)."""
    return [PiiSpan(start, end, entity) for entity in entities for start, end in FINDERS[entity](text)]


def resolve_overlaps(spans: list[PiiSpan]) -> list[PiiSpan]:
    """Non-overlapping spans, in text order: higher-priority types first, then longer spans."""
    rank = {entity: index for index, entity in enumerate(PRIORITY)}
    chosen: list[PiiSpan] = []
    for span in sorted(spans, key=lambda s: (rank[s.entity], -(s.end - s.start), s.start)):
        if all(span.end <= other.start or span.start >= other.end for other in chosen):
            chosen.append(span)
    return sorted(chosen)
