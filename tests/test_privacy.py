import pytest

from portal.privacy import hash_id, mask_id, mask_name


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
