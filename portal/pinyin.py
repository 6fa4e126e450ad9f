"""Search keys for Chinese names and places: the characters, full pinyin and pinyin initials.

A villager types 张建国, 建国, zhangjianguo, jianguo or zjg and expects to find 张建国. Every key here
is a *suffix by syllable* of the name in one of the three spellings, so that any fragment a person
types is the prefix of some key: the search then only needs an ordered index and a range scan.
Surnames read differently as surnames (单 Shàn, 曾 Zēng, 解 Xiè, 仇 Qiú …) get their surname reading
as well as the everyday one.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from pypinyin import lazy_pinyin

from .privacy import COMPOUND_SURNAMES

# Characters whose reading as a surname differs from pypinyin's everyday reading.
SURNAME_READINGS = {
    "单": "shan", "曾": "zeng", "解": "xie", "仇": "qiu", "区": "ou", "查": "zha", "朴": "piao",
    "盖": "ge", "乐": "yue", "覃": "qin", "缪": "miao", "繁": "po", "句": "gou", "尉": "yu",
    "员": "yun", "种": "chong", "秘": "bi", "召": "shao", "长": "zhang", "藏": "zang", "折": "she",
    "翟": "zhai", "祭": "zhai", "燕": "yan", "华": "hua", "纪": "ji", "任": "ren", "宁": "ning",
    "洗": "xian", "冼": "xian", "万俟": "moqi", "尉迟": "yuchi", "长孙": "zhangsun",
}

_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORD = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+|[a-z]+|[0-9]+")


def normalise(text: str) -> str:
    """Full-width to half-width, lower case, ü typed as v or u alike."""
    return unicodedata.normalize("NFKC", text or "").lower().replace("ü", "v")


def words(query: str) -> list[str]:
    """The runs of Chinese characters, Latin letters and digits in a query, in order, without
    punctuation or operators (so ``AND``, ``"``, ``*`` and ``(`` are just ignored or literal)."""
    return _WORD.findall(normalise(query))


def is_han(word: str) -> bool:
    return bool(_HAN.fullmatch(word))


@functools.lru_cache(maxsize=None)
def _char(c: str) -> str:
    return lazy_pinyin(c)[0] if _HAN.match(c) else ""


def _syllables(han: str, phrases: bool = False) -> list[str]:
    """One pinyin syllable per character, tones dropped, ü as v. Names are read character by
    character (fast, and names are rarely dictionary words); ``phrases`` reads place names as words
    (长沙 Changsha, not Zhangsha)."""
    if phrases:
        out = lazy_pinyin(han, errors=lambda chars: ["" for _ in chars])
        if len(out) == len(han):
            return out
    return [_char(c) for c in han]


def _suffix_keys(chars: list[str], syllables: list[str]) -> set[str]:
    keys = set()
    for i in range(len(chars)):
        keys.add("".join(chars[i:]))
        rest = [s for s in syllables[i:] if s]
        if rest:
            keys.add("".join(rest))
            keys.add("".join(s[0] for s in rest))
    return keys


def _with_u(keys: set[str]) -> set[str]:
    """吕 is lv in pypinyin; people also type lu."""
    return keys | {k.replace("v", "u") for k in keys if "v" in k and k.isascii()}


@functools.lru_cache(maxsize=65536)
def name_keys(name: str) -> frozenset[str]:
    """Keys for a person's name: every suffix by syllable in characters, full pinyin and initials,
    with the surname's own reading as well."""
    han = "".join(_HAN.findall(normalise(name)))
    if not han:
        return frozenset()
    chars = list(han)
    syllables = _syllables(han)
    keys = _suffix_keys(chars, syllables)
    n = 2 if len(han) >= 3 and han[:2] in COMPOUND_SURNAMES else 1
    surname = SURNAME_READINGS.get(han[:n])
    if surname:
        given = [s for s in syllables[n:] if s]
        keys.add(surname + "".join(given))
        keys.add(surname[0] + "".join(s[0] for s in given))
    return frozenset(_with_u(keys))


def closeness(word: str, name: str) -> int:
    """How well a query word fits a name, for ordering: 0 the whole name (in any spelling),
    1 the start of it, 2 a fragment further in."""
    keys = name_keys(name)
    longest = {k for k in keys if not any(o != k and o.endswith(k) for o in keys)}
    if word in longest:
        return 0
    return 1 if any(k.startswith(word) for k in longest) else 2


@functools.lru_cache(maxsize=65536)
def place_keys(name: str) -> frozenset[str]:
    """Keys for a place name (双星村: 双星村, 星村, 村, shuangxingcun, xingcun, sxc, xc …); a prefix
    of any of them (双星, sx, shuangx) finds the place."""
    han = "".join(_HAN.findall(normalise(name)))
    if not han:
        return frozenset()
    return frozenset(_with_u(_suffix_keys(list(han), _syllables(han, phrases=True))))


def matches(word: str, keys: set[str]) -> bool:
    """Whether a query word is the prefix of one of the keys."""
    return any(k.startswith(word) for k in keys)
