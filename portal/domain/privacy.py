"""What public pages may show of a person (DOMAIN §11 rule 11): name masking and ID handling.

ID numbers are never stored in clear: only a keyed hash (to find duplicates across a campaign)
and a masked form for staff (the last 4 characters only, see ``mask_id``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re

from . import rules

NAME_POLICIES = ("mask", "surname", "full", "withheld")
#: What a name becomes once retention has withheld it (issue 21, item 4).
WITHHELD_NAME = "（已隐去）"

# Two-character compound surnames, so that 欧阳*明 keeps the whole surname.
COMPOUND_SURNAMES = frozenset(
    "欧阳 司马 上官 诸葛 东方 皇甫 尉迟 公孙 慕容 长孙 宇文 司徒 夏侯 令狐 端木 独孤 南宫 西门 万俟".split()
)


def _surname_length(name: str) -> int:
    return 2 if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES else 1


def mask_name(name: str, policy: str = "mask") -> str:
    """Mask a household head's name for public display.

    ``mask``: keep the surname and the last character (张*明, 张*, 欧阳*明);
    ``surname``: keep the surname only (张**); ``full``: the name as it is (board print).
    """
    name = (name or "").strip()
    if policy == "full" or not name:
        return name
    if policy not in NAME_POLICIES:
        raise ValueError(f"unknown name policy {policy!r}")
    if policy == "withheld":
        return WITHHELD_NAME
    n = _surname_length(name)
    surname, rest = name[:n], name[n:]
    if not rest:
        return name
    if policy == "surname" or len(rest) == 1:
        return surname + "*" * len(rest)
    return surname + "*" * (len(rest) - 1) + rest[-1]


def normalise_id(raw: str) -> str:
    """Strip spaces and upper-case the check digit X."""
    return "".join((raw or "").split()).upper()


def hash_id(raw: str, key: bytes) -> str:
    """Keyed SHA-256 of a normalised ID number: equal IDs collide, the ID cannot be read back."""
    return hmac.new(key, normalise_id(raw).encode(), hashlib.sha256).hexdigest()


def mask_id(raw: str) -> str:
    """Only the last 4 characters kept (**************123X): with the area code and the check digit
    shown too, a birth year would be enough to recover the rest."""
    value = normalise_id(raw)
    if len(value) <= 4:
        return "*" * len(value)
    return "*" * (len(value) - 4) + value[-4:]


ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"


def valid_id18(value: str) -> bool:
    """The GB 11643 check digit of a normalised 18-character ID is right (fast path for imports).

    The weights are 2**(17-i) mod 11, and 13 = 2 (mod 11), so reading the 17 digits as one base-13
    number and doubling it gives the weighted sum mod 11 in a single C call (test_privacy checks it
    against ID_WEIGHTS for many numbers).
    """
    body = value[:17]
    if len(value) != 18 or not (body.isascii() and body.isdigit()):
        return False
    return ID_CHECK[2 * int(body, 13) % 11] == value[17]


def id_hasher(key: bytes):
    """hash_id for many normalised IDs under one key, about twice as fast: HMAC-SHA256 as RFC 2104
    defines it, with the keyed inner and outer states computed once and copied per ID."""
    block = (hashlib.sha256(key).digest() if len(key) > 64 else key).ljust(64, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in block))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in block))

    def digest(value: str) -> str:
        i = inner.copy()
        i.update(value.encode())
        o = outer.copy()
        o.update(i.digest())
        return o.hexdigest()

    digest.states = (inner, outer)      # for a caller that inlines the two copies in a hot loop
    return digest


def id_number_problem(raw: str) -> str | None:
    """Why an ID number is not valid (GB 11643), in Chinese; None when it is.

    A 15-digit legacy number is accepted; the caller may flag it.
    """
    value = normalise_id(raw)
    if "E+" in value or "." in value:
        return "身份证号被表格软件变成了科学计数法（如 4.30811E+17），请把该列设为“文本”格式后重新填写。"
    if len(value) == 15 and value.isdigit():
        return None
    if len(value) != 18 or not value[:17].isdigit() or value[17] not in "0123456789X":
        return "身份证号应为 18 位（最后一位可以是 X），或旧式 15 位数字。"
    if not valid_id18(value):
        return "身份证号校验位不对，请核对是否抄错。"
    return None


# --- Household heads' names (issue 17, item 3) -------------------------------------------------

#: Han characters: the CJK Unified Ideographs with every extension (A to I; rare characters are common
#: in names), the compatibility ideographs, and 〇.
HAN = ("\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df\U0002a700-\U0002ebef"
       "\U0002ebf0-\U0002ee5f\U0002f800-\U0002fa1f\U00030000-\U0003134f\U00031350-\U000323af")
NAME_DOT = "·"          # U+00B7, the separator of GB 18030 for names like 阿依古丽·买买提
#: Dots people type for it: katakana middle dot, hyphenation point, bullet, dot operator, full stop.
_DOTS = str.maketrans({c: NAME_DOT for c in "・･‧•∙⋅●.．"})
MAX_NAME = 30
_HAN_NAME = re.compile(f"[{HAN}]+(?:{NAME_DOT}[{HAN}]+)*")
_LATIN_NAME = re.compile(f"[{HAN}A-Za-z]+(?:[ {NAME_DOT}][{HAN}A-Za-z]+)*")


def name_pattern(latin: bool = False):
    """The compiled pattern a whole (normalised) name must match: Han characters in parts joined by
    ·, and with ``latin`` (a per-deployment setting) Latin letters and single spaces too."""
    return _LATIN_NAME if latin else _HAN_NAME


def normalise_name(raw: str) -> str:
    """A name as typed, with surrounding spaces dropped and every kind of middle dot made ·."""
    return (raw or "").strip().translate(_DOTS)


def name_problem(name: str, latin: bool = False) -> str | None:
    """Why a normalised household head's name cannot be registered, in Chinese; None if it can."""
    if not name:
        return "户主姓名不能为空。"
    if len(name) > MAX_NAME:
        return f"户主姓名太长（最多 {MAX_NAME} 个字）。"
    if name_pattern(latin).fullmatch(name):
        return None
    for ch in name:
        if ch in (NAME_DOT, " ") or (latin and ch.isascii() and ch.isalpha()) or _HAN_NAME.fullmatch(ch):
            continue
        if ch.isascii() and ch.isalpha():
            return ("户主姓名里有拉丁字母：本平台只登记汉字姓名（如确需登记外文姓名，"
                    "请县扶贫办在设置中允许拉丁字母）。")
        shown = f"控制字符 U+{ord(ch):04X}" if not ch.isprintable() else f"“{ch}”"
        return f"户主姓名里有不能用的字符（{shown}）：姓名只能用汉字，少数民族姓名的各部分之间用“·”隔开。"
    if " " in name and not latin:
        return "户主姓名中间不能有空格。"
    return "“·”（或空格）只能用在姓名中间，隔开姓名的各部分，不能放在开头、结尾或连用。"


def public_causes(causes_json: str, full: bool = False) -> str:
    """Causes as public pages and the posted board show them (illness and disability folded into
    家庭原因, whatever the name policy: DOMAIN §11 rule 11); ``full`` gives the exact causes for the
    console's own pages, which only staff see."""
    labels = [rules.CAUSES[c][0 if full else 1] for c in json.loads(causes_json) if c in rules.CAUSES]
    return "、".join(dict.fromkeys(labels))
