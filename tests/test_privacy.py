import random

import pytest

from portal.domain.privacy import (
    ID_CHECK,
    ID_WEIGHTS,
    hash_id,
    id_hasher,
    mask_id,
    mask_name,
    valid_id18,
)


@pytest.mark.parametrize("name, policy, shown", [
    ("张建国", "mask", "张*国"),
    ("王明", "mask", "王*"),
    ("欧阳德胜", "mask", "欧阳*胜"),
    ("欧阳明", "mask", "欧阳*"),
    ("司马相如甲", "mask", "司马**甲"),
    ("张建国", "surname", "张**"),
    ("张建国", "full", "张建国"),
    (" 张建国 ", "mask", "张*国"),
    ("张", "mask", "张"),
])
def test_mask_name(name, policy, shown):
    assert mask_name(name, policy) == shown


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError):
        mask_name("张建国", "none")


def test_id_hash_is_keyed_and_normalised():
    a = hash_id("43081119600202123x", b"k1")
    assert a == hash_id(" 43081119600202123X ", b"k1")
    assert a != hash_id("43081119600202123X", b"k2")
    assert "430811" not in a


def test_mask_id_keeps_only_the_last_four():
    assert mask_id("43081119600202123x") == "**************123X"
    assert mask_id("430811500101123") == "***********1123"


def test_fast_check_digit_agrees_with_the_weighted_sum():
    rng = random.Random(11643)
    for _ in range(5000):
        body = "".join(rng.choice("0123456789") for _ in range(17))
        right = ID_CHECK[sum(int(c) * w for c, w in zip(body, ID_WEIGHTS)) % 11]
        assert valid_id18(body + right)
        assert not any(valid_id18(body + c) for c in "0123456789X" if c != right)
    for bad in ("43081119700101001", "4308111970010100AX", "４３０８１１１９７００１０１００１X", "43081119700101001XX"):
        assert not valid_id18(bad)


@pytest.mark.parametrize("key", [b"k" * 32, b"short", b"x" * 100])
def test_id_hasher_is_hash_id(key):
    digest = id_hasher(key)
    for value in ("430811197001010011", "43081119700101001X", "430811700101001", ""):
        assert digest(value) == hash_id(value, key)
