"""How a customer's name is spelled for search and ordering: pinyin and its initials.

Chinese users look customers up by pinyin ("hangzhou") or by its initials ("hzxh" for
杭州西湖…) and expect lists ordered as the names are spoken, not by code point. The pinyin
comes from pypinyin (phrase-aware, so 重庆 reads chongqing, not zhongqing); Latin letters and
digits in a name are kept as they are, lower-cased.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pypinyin import Style, lazy_pinyin


@dataclass(frozen=True, slots=True)
class NameSpelling:
    #: Full pinyin without tones or spaces ("hangzhouxihuchaye"): search prefix and sort key.
    pinyin: str
    #: First letter of each syllable; Latin words whole ("hzxhcy", "abckj" for "ABC科技").
    initials: str


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def spell_name(name: str) -> NameSpelling:
    """The pinyin spelling of ``name``; for a name without Chinese characters, the name itself
    lower-cased (so a mixed list orders Latin and Chinese names together, by sound)."""
    pinyin: list[str] = []
    initials: list[str] = []
    position = 0
    for run in _HAN.finditer(name):
        _latin(name[position : run.start()], pinyin, initials)
        # One whole run at a time: pypinyin reads phrases (重庆 -> chongqing).
        for syllable in lazy_pinyin(run.group(), style=Style.NORMAL):
            pinyin.append(syllable)
            initials.append(syllable[:1])
        position = run.end()
    _latin(name[position:], pinyin, initials)
    return NameSpelling("".join(pinyin), "".join(initials))


def _latin(text: str, pinyin: list[str], initials: list[str]) -> None:
    for word in text.split():
        kept = "".join(ch for ch in word.casefold() if ch.isascii() and ch.isalnum())
        if kept:
            pinyin.append(kept)
            initials.append(kept)


def search_spelling(text: str) -> str | None:
    """The form of a search text compared with the stored spellings: letters and digits,
    lower-cased, when it is Latin ("Hang Zhou" -> "hangzhou"); None for any other text."""
    if not text.isascii():
        return None
    key = "".join(ch for ch in text.casefold() if ch.isalnum())
    return key or None
