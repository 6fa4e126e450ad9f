"""Search keys for Chinese names and places: the characters, full pinyin and pinyin initials.

**Names** are found by the *whole* name only (issue 17, item 8): 张建国, zhangjianguo or zjg find
张建国; 建国, 张建 or zhangj do not, or anyone could recover the character a list hides (张*国) by
trying common ones. Surnames read differently as surnames (单 Shàn, 曾 Zēng, 解 Xiè, 仇 Qiú …) get
their surname reading as well as the everyday one, and 吕 is lv or lu.

**Places** are public, so every *suffix by syllable* of a place name is a key and any fragment a
person types (双星, sx, xingcun) is the prefix of one: an ordered index and a range scan find it.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from pypinyin import lazy_pinyin

from .privacy import COMPOUND_SURNAMES, HAN, NAME_DOT, normalise_name

# Characters whose reading as a surname differs from pypinyin's everyday reading (one syllable per
# character of a compound surname, separated by a space).
SURNAME_READINGS = {
    "单": "shan", "曾": "zeng", "解": "xie", "仇": "qiu", "区": "ou", "查": "zha", "朴": "piao",
    "盖": "ge", "乐": "yue", "覃": "qin", "缪": "miao", "繁": "po", "句": "gou", "尉": "yu",
    "员": "yun", "种": "chong", "秘": "bi", "召": "shao", "长": "zhang", "藏": "zang", "折": "she",
    "翟": "zhai", "祭": "zhai", "燕": "yan", "华": "hua", "纪": "ji", "任": "ren", "宁": "ning",
    "洗": "xian", "冼": "xian", "万俟": "mo qi", "尉迟": "yu chi", "长孙": "zhang sun",
}

_HAN = re.compile(f"[{HAN}]+")
# A run of characters (the parts of 阿依古丽·买买提 joined by a middle dot count as one), of letters, or of digits.
_WORD = re.compile(f"[{HAN}]+(?:{NAME_DOT}[{HAN}]+)*|[a-z]+|[0-9]+")


def normalise(text: str) -> str:
    """Full-width to half-width, lower case, ü typed as v or u alike, every middle dot made ·."""
    return normalise_name(unicodedata.normalize("NFKC", text or "").lower().replace("ü", "v"))


def words(query: str) -> list[str]:
    """The runs of Chinese characters, Latin letters and digits in a query, in order, without
    punctuation or operators (so ``AND``, ``"``, ``*`` and ``(`` are just ignored or literal).
    A name in parts (阿依古丽·买买提) is one word, without its dots."""
    return [w.replace(NAME_DOT, "") for w in _WORD.findall(normalise(query))]


def is_han(word: str) -> bool:
    return bool(_HAN.fullmatch(word))


@functools.lru_cache(maxsize=None)
def _char(c: str) -> str:
    """The everyday reading of one character; "" for a character pypinyin does not know."""
    reading = lazy_pinyin(c)[0] if _HAN.match(c) else ""
    return reading if reading.isascii() and reading.isalpha() else ""


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
    """Keys for a person's whole name: its characters, full pinyin and initials, with the surname's
    own reading as well. No key for part of a name. A name with a character pypinyin cannot read
    has no pinyin keys (a key without that syllable would be a fragment); a name in Latin letters
    (``PORTAL_NAME_LATIN``) is its letters, lower case, without spaces or dots."""
    text = normalise(name)
    han = "".join(_HAN.findall(text))
    if not han:
        latin = "".join(re.findall("[a-z]+", text))
        return frozenset({latin}) if latin else frozenset()
    keys = {han}
    syllables = [_char(c) for c in han]
    if all(syllables):
        n = 2 if len(han) >= 3 and han[:2] in COMPOUND_SURNAMES else 1
        readings = [syllables[:n]]
        surname = SURNAME_READINGS.get(han[:n])
        if surname:
            readings.append(surname.split())
        for first in readings:
            spelled = first + syllables[n:]
            keys.add("".join(spelled))
            keys.add("".join(s[0] for s in spelled))
    return frozenset(_with_u(keys))


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
