"""Name keys (the whole name only) and place keys (every fragment a villager might type is the prefix
of one)."""

from portal.domain import pinyin


def test_a_name_has_keys_for_the_whole_name_only():
    """Issue 17, item 8: characters, full pinyin and initials of the whole name; no fragment."""
    assert pinyin.name_keys("张建国") == {"张建国", "zhangjianguo", "zjg"}
    assert pinyin.name_keys("阿依古丽·买买提") == {"阿依古丽买买提", "ayigulimaimaiti", "ayglmmt"}


def test_a_character_pypinyin_cannot_read_leaves_the_name_without_pinyin_keys():
    # U+2A6D6 is in extension B; pypinyin has no reading for it. A key without it would be a fragment.
    assert pinyin.name_keys("王\U0002a6d6明") == {"王\U0002a6d6明"}


def test_surname_readings_are_found_by_the_surname_reading_and_the_everyday_one():
    assert {"shanxiongxin", "sxx", "danxiongxin", "dxx"} <= pinyin.name_keys("单雄信")
    assert {"zengguofan", "zgf", "cengguofan"} <= pinyin.name_keys("曾国藩")
    assert {"xiejin", "xj"} <= pinyin.name_keys("解缙")
    assert "qiuying" in pinyin.name_keys("仇英")
    assert {"yuchigong", "ycg"} <= pinyin.name_keys("尉迟恭")   # compound surname read as a surname
    assert {"moqixie", "mqx"} <= pinyin.name_keys("万俟卨")


def test_lv_is_found_typed_as_lv_or_lu():
    keys = pinyin.name_keys("吕小兵")
    assert {"lvxiaobing", "luxiaobing", "lxb"} <= keys


def test_query_words_drop_operators_and_normalise_width_and_case():
    assert pinyin.words('张 AND "sx*(村') == ["张", "and", "sx", "村"]
    assert pinyin.words("ＺＪＧ　双星") == ["zjg", "双星"]
    assert pinyin.words("()*\"") == []


def test_place_keys_find_a_village_by_initials_and_fragments():
    keys = pinyin.place_keys("双星村")
    for typed in ("sxc", "sx", "shuangxing", "xingcun", "双星", "星村"):
        assert pinyin.matches(typed, keys), typed
