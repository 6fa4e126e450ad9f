"""Name and place keys: every fragment a villager might type is the prefix of some key."""

from portal import pinyin


def test_full_name_fragments_full_pinyin_and_initials_find_a_name():
    keys = pinyin.name_keys("张建国")
    for typed in ("张建国", "建国", "国", "zhangjianguo", "jianguo", "zjg", "jg", "zhangj", "zj"):
        assert pinyin.matches(typed, keys), typed
    for typed in ("李", "zhangjianmin", "zjm", "guojian"):
        assert not pinyin.matches(typed, keys), typed


def test_surname_readings_are_found_by_the_surname_reading_and_the_everyday_one():
    assert {"shanxiongxin", "sxx", "danxiongxin", "dxx"} <= pinyin.name_keys("单雄信")
    assert {"zengguofan", "zgf", "cengguofan"} <= pinyin.name_keys("曾国藩")
    assert {"xiejin", "xj"} <= pinyin.name_keys("解缙")
    assert "qiuying" in pinyin.name_keys("仇英")
    assert "yuchigong" in pinyin.name_keys("尉迟恭")          # compound surname read as a surname


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


def test_closeness_orders_whole_names_before_starts_before_fragments():
    assert pinyin.closeness("zjg", "张建国") == 0
    assert pinyin.closeness("张", "张建国") == 1
    assert pinyin.closeness("建国", "张建国") == 2
    assert pinyin.closeness("zengguofan", "曾国藩") == 0
