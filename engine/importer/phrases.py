"""The Swedish phrases an agreement states its facts in, each read by one small function.

"Borås den 14 december 2015", "gäller från 1 januari 2019 till och med 31 december 2022",
"tills vidare", "revidering ungefär vart tredje år", "X är processägare", "Tekniska
förvaltningen ansvarar", "Ansvariga är …", "två gånger per år", "2016-2018". Each returns
what it read or None; none raises.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from rules import texts

# Month names as the documents write them, from the one list every edge prints (rules.texts).
MONTHS = {name: i for i, name in enumerate(texts.MONTHS, start=1)}
NUMBERS = {
    "en": 1,
    "ett": 1,
    "ena": 1,
    "två": 2,
    "tre": 3,
    "fyra": 4,
    "fem": 5,
    "sex": 6,
    "sju": 7,
    "åtta": 8,
    "nio": 9,
    "tio": 10,
}
ORDINALS = {"andra": 2, "tredje": 3, "fjärde": 4, "femte": 5, "sjätte": 6, "sjunde": 7, "åttonde": 8}
_MONTH = "|".join(MONTHS)
_DATE = rf"(\d{{1,2}})\s+({_MONTH})\s+((?:19|20|21)\d\d)|((?:19|20|21)\d\d)-(\d\d)-(\d\d)"
SIGNED = re.compile(rf"^([A-ZÅÄÖ][\wåäöÅÄÖéü\- ]{{1,40}}?),?\s+den\s+(?:{_DATE})\s*$", re.IGNORECASE)
DATE = re.compile(_DATE, re.IGNORECASE)
YEARS = re.compile(r"\b((?:19|20)\d\d)\s*[-–—]\s*((?:19|20)\d\d)\b")
YEAR = re.compile(r"\b((?:19|20)\d\d)\b")
_COUNT = r"(\d{1,3}|" + "|".join(NUMBERS) + r")"
TARGET = re.compile(rf"(?:minst\s+)?{_COUNT}\s*(?:gånger|gång|ggr\.?)\s*(?:/|per|om|i)\s*(?:året|år)\b", re.IGNORECASE)
SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-ZÅÄÖ\"”“])")


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.split(text) if s.strip()]


def a_date(match: re.Match[str], offset: int = 0) -> date | None:
    groups = match.groups()[offset : offset + 6]
    try:
        if groups[0] is not None:
            return date(int(groups[2]), MONTHS[groups[1].lower()], int(groups[0]))
        return date(int(groups[3]), int(groups[4]), int(groups[5]))
    except (ValueError, TypeError, KeyError):
        return None


def signing_line(text: str) -> date | None:
    """'Borås den 14 december 2015' → that day; any other line → None."""
    found = SIGNED.match(text)
    return a_date(found, 1) if found else None


@dataclass(frozen=True, kw_only=True)
class Term:
    valid_from: date | None
    valid_to: date | None
    open_ended: bool
    quote: str


def term(text: str) -> Term | None:
    """The term a sentence states: 'gäller tills vidare', 'gäller från … till och med …', 'gäller 2019–2022'."""
    low = text.lower()
    if "gäller" not in low and "giltig" not in low and "period" not in low:
        return None
    if "tills vidare" in low:
        return Term(valid_from=None, valid_to=None, open_ended=True, quote=text)
    dates = [d for d in (a_date(m) for m in DATE.finditer(text)) if d is not None]
    if len(dates) >= 2 and ("till" in low or "t.o.m" in low or "–" in text or "-" in text):
        return Term(valid_from=dates[0], valid_to=dates[1], open_ended=False, quote=text)
    if len(dates) == 1 and ("till och med" in low or "t.o.m" in low or "till" in low) and "från" not in low:
        return Term(valid_from=None, valid_to=dates[0], open_ended=False, quote=text)
    span = YEARS.search(text)
    if span and ("gäller" in low or "giltig" in low):
        first, last = int(span.group(1)), int(span.group(2))
        if first <= last:
            return Term(valid_from=date(first, 1, 1), valid_to=date(last, 12, 31), open_ended=False, quote=text)
    return None


def revision_years(text: str) -> int | None:
    """'revidering (ungefär) vart tredje år' → 3, 'vartannat år' → 2, 'varje år'/'årligen' → 1."""
    low = text.lower()
    if "revider" not in low:
        return None
    if "vartannat år" in low or "varannat år" in low:
        return 2
    found = re.search(r"var(?:t|je)\s+(\w+)\s+år", low)
    if found and found.group(1) in ORDINALS:
        return ORDINALS[found.group(1)]
    found = re.search(r"(?:var|vart|efter|inom)\s+(\d{1,2}|" + "|".join(NUMBERS) + r")\s*:?\s*(?:e\s+)?år", low)
    if found:
        word = found.group(1)
        return int(word) if word.isdigit() else NUMBERS[word]
    if "årligen" in low or "varje år" in low:
        return 1
    return None


def yearly_follow_up(text: str) -> bool:
    low = text.lower()
    return ("uppfölj" in low or "följa upp" in low or "följas upp" in low) and (
        "årligen" in low or "varje år" in low or "en gång per år" in low or "årlig" in low
    )


def process_owner(text: str) -> str | None:
    """'Brottsförebyggande rådet i Borås är processägare …' → 'Brottsförebyggande rådet i Borås'."""
    found = re.search(r"([A-ZÅÄÖ][^.,;:]{1,80}?)\s+är\s+(?:\w+\s+)?processägare", text)
    if found:
        return found.group(1).strip()
    found = re.search(r"[Pp]rocessägare\s+(?:är|blir)\s+([A-ZÅÄÖa-zåäö][^.,;:]{1,80})", text)
    return found.group(1).strip() if found else None


@dataclass(frozen=True, kw_only=True)
class Named:
    """A body a cell names, and how: responsible ('ansvarar') or supporting ('stödjande funktion')."""

    name: str
    leads: bool


_STOP = ("varje ", "alla ", "respektive ", "båda ", "vi ", "man ", "det ", "den ", "som ", "vilket ", "där ")
_PREPOSITIONS = ("för ", "i ", "inom ", "vid ", "med ", "under ", "på ", "av ", "efter ", "enligt ")
# (pattern, whether the name may start in lower case: "Ansvariga är samverkansgruppen …")
_LEAD = (
    (re.compile(r"^(.{2,80}?)\s+(?:har\s+(?:\w+\s+)?\w*ansvar(?:et)?|ansvarar|är\s+ansvarig\w*)\b"), False),
    (re.compile(r"\bansvarar\s+([A-ZÅÄÖ].{1,80})$"), False),
    (re.compile(r"^[Aa]nsvarig(?:a|t)?\s+(?:är|blir)\s+(.{2,80})$"), True),
)
_SUPPORT = re.compile(r"^(.{2,80}?)\s+är\s+(?:en\s+)?(?:samordnande|stödjande|medansvarig)\w*\b")


def named_bodies(text: str) -> list[Named]:
    """The bodies a cell names as responsible or supporting, in the order they appear."""
    found: list[Named] = []
    for part in re.split(r"[.;:]\s+|,\s+|\.$", text):
        clause = part.strip()
        if not clause:
            continue
        for pattern, any_case in _LEAD:
            hit = pattern.search(clause)
            name = _body(hit.group(1), any_case) if hit else None
            if name:
                found.append(Named(name=name, leads=True))
                break
        else:
            hit = _SUPPORT.search(clause)
            if hit and (name := _body(hit.group(1), False)):
                found.append(Named(name=name, leads=False))
    return found


def _body(words: str, any_case: bool) -> str | None:
    words = words.strip(" .,;:\"'”“")
    words = re.split(r"\s+(?:för|i samråd|tillsammans|inom)\s+", words, maxsplit=1)[0]
    low = words.lower() + " "
    if not words or len(words.split()) > 7 or low.startswith(_STOP + _PREPOSITIONS):
        return None
    if not (any_case or words[:1].isupper()):
        return None
    return words[:1].upper() + words[1:]


def target(text: str) -> tuple[int, str] | None:
    """'två gånger per år' → (2, the phrase); 'minst 1ggr/ år' → (1, …)."""
    found = TARGET.search(text)
    if not found:
        return None
    word = found.group(1).lower()
    return (int(word) if word.isdigit() else NUMBERS[word]), found.group(0)


def year_span(text: str) -> tuple[date, date, str] | None:
    """'2016-2018' → 1 January 2016 and 31 December 2018; a timeframe that is one year ('under 2025') → that year."""
    found = YEARS.search(text)
    if found:
        first, last = int(found.group(1)), int(found.group(2))
        if first <= last:
            return date(first, 1, 1), date(last, 12, 31), found.group(0)
        return None
    single = re.fullmatch(r"(?:under|år|året)?\s*((?:19|20)\d\d)\.?", text.strip(), re.IGNORECASE)
    if single:
        year = int(single.group(1))
        return date(year, 1, 1), date(year, 12, 31), single.group(0)
    return None


def slug(text: str, words: int = 5, limit: int = 40) -> str:
    """An id from a title: 'Fritids- och folkhälsoförvaltningen' → 'fritids-och-folkhalsoforvaltningen'."""
    plain = unicodedata.normalize("NFKD", text.lower())
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    parts = [p for p in re.split(r"[^a-z0-9]+", plain) if p][:words]
    out = ""
    for part in parts:
        candidate = f"{out}-{part}" if out else part
        if len(candidate) > limit:
            break
        out = candidate
    return out or (parts[0][:limit] if parts else "")
