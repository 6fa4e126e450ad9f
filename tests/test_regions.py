import pytest


def test_county_page_lists_townships_with_quotas(client, published):
    page = client.get("/r/430811").get_data(as_text=True)
    assert "<h1>武陵源区</h1>" in page
    assert "100 人" in page and "预留机动名额 10 人" in page
    assert 'href="/r/430811100"' in page and "40 人" in page and "下辖乡镇" in page


def test_township_page_has_breadcrumbs_villages_and_its_list(client, published):
    page = client.get("/r/430811100").get_data(as_text=True)
    assert 'href="/r/430811"' in page and 'aria-current="page"' in page
    assert "双星村" in page and "10 人" in page and "河口村" in page
    assert f'href="/lists/{published["township"]}"' in page and "公示中" in page


def test_village_page_shows_its_list_and_the_township_list_covering_it(client, published):
    page = client.get("/r/430811100001").get_data(as_text=True)
    assert "武陵源区" in page and "索溪峪镇" in page and "村民小组" in page and "一组" in page
    own = page.split('id="lists-h"')[1].split("</section>")[0]
    upper = page.split('id="upper-h"')[1].split("</section>")[0]
    assert f'href="/lists/{published["village_a"]}"' in own and "已结束" in own
    assert f'href="/lists/{published["township"]}"' in upper and "公示中" in upper
    assert 'href="/r/430811100001001"' not in page      # groups are named, not linked


def test_county_page_counts_lists_of_the_whole_subtree(client, published):
    page = client.get("/r/430811").get_data(as_text=True)
    assert "3 份（含下级）" in page


def test_region_without_lists_or_quota(client, db, county):
    from portal.domain.regions import add_region
    add_region(db, "430811100003", "高云村", "430811100")
    page = client.get("/r/430811100003").get_data(as_text=True)
    assert "还没有下达规模指标" in page and "本级还没有公示名单" in page


def test_group_page_points_to_the_village_and_upper_lists(client, published):
    page = client.get("/r/430811100001001").get_data(as_text=True)
    assert "村民小组不单独下达指标" in page and f'href="/lists/{published["township"]}"' in page


@pytest.mark.parametrize("code", ["999999", "43081", "430811x", "4308111000011", "430811100009", "%20", "430811100001001001"])
def test_unknown_or_malformed_region_codes_get_404(client, county, code):
    resp = client.get(f"/r/{code}")
    assert resp.status_code == 404 and "找不到这个页面" in resp.get_data(as_text=True)


def test_add_region_checks_code_against_parent(db):
    from portal.domain.regions import add_region
    add_region(db, "430811", "武陵源区")
    with pytest.raises(ValueError, match="不相符"):
        add_region(db, "430812100", "错乡", "430811")
    with pytest.raises(ValueError, match="格式不对"):
        add_region(db, "43081A", "错")
