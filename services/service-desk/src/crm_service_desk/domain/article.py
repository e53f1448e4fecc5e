"""Knowledge-base articles and their keyword tokens (search without a text index). Pure."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from crm_common.errors import BadUserInput
from crm_service_desk.domain.ticket import TITLE_MAX, clean_name, clean_text

BODY_MAX = 100_000
TAGS_MAX = 20
QUERY_TERMS_MAX = 10

_WORD = re.compile(r"\w+", re.UNICODE)
# Han, Hiragana/Katakana and Hangul runs have no spaces between words: index them as
# overlapping character pairs (bigrams), which a query's own bigrams then match.
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")


class ArticleKind(StrEnum):
    SUCCESS_CASE = "SUCCESS_CASE"
    SOLUTION = "SOLUTION"
    TYPICAL_PROBLEM = "TYPICAL_PROBLEM"


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    tenant_id: str
    title: str
    body: str
    kind: ArticleKind
    tags: tuple[str, ...]
    author_id: str
    published_at: datetime
    source_ticket_id: str | None = None


def tokens(text: str) -> list[str]:
    """Normalised search tokens of a text: lower-cased words, plus bigrams of CJK runs."""
    normalised = unicodedata.normalize("NFKC", text).casefold()
    found: list[str] = []
    for word in _WORD.findall(normalised):
        for part in _split_cjk(word):
            if part not in found:
                found.append(part)
    return found


def _split_cjk(word: str) -> list[str]:
    parts: list[str] = []
    last = 0
    for run in _CJK.finditer(word):
        if run.start() > last:
            parts.append(word[last : run.start()])
        chars = run.group()
        parts.extend(
            [chars] if len(chars) == 1 else [chars[i : i + 2] for i in range(len(chars) - 1)]
        )
        last = run.end()
    if last < len(word):
        parts.append(word[last:])
    return [p for p in parts if p]


def keywords_of(title: str, body: str, tags: tuple[str, ...]) -> list[str]:
    return tokens(" ".join([title, body, *tags]))


def query_tokens(query: str) -> list[str]:
    found = tokens(query)
    if not found:
        raise BadUserInput("the search needs at least one word", field="query")
    if len(found) > QUERY_TERMS_MAX:
        raise BadUserInput(f"at most {QUERY_TERMS_MAX} search terms", field="query")
    return found


def normalise_tags(tags: list[str]) -> tuple[str, ...]:
    if len(tags) > TAGS_MAX:
        raise BadUserInput(f"at most {TAGS_MAX} tags", field="input.tags")
    clean: list[str] = []
    for i, tag in enumerate(tags):
        name = clean_name(tag, f"input.tags.{i}", required=True)
        assert name is not None
        if name.casefold() not in clean:
            clean.append(name.casefold())
    return tuple(clean)


def validate_article(title: str, body: str) -> tuple[str, str]:
    clean_title = clean_text(title, "input.title", TITLE_MAX, required=True)
    return clean_title, clean_text(body, "input.body", BODY_MAX, required=True)
