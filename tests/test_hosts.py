"""The Host header never reaches a page (issue 17, item 9): absolute URLs come from PUBLIC_URL, and a
host the portal does not serve gets the Chinese 400 page, never a cacheable page with its links."""

import re

import pytest

from portal import create_app, trusted_hosts


@pytest.mark.parametrize("path", ["/lists/{a}/print", "/feeds/430811.atom", "/feeds/430811100.rss", "/lists/{a}", "/"])
def test_a_forged_host_gets_a_400_not_a_page(client, published, path):
    response = client.get(path.format(a=published["village_a"]), headers={"Host": "evil.example"})
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and "请求有误" in body and "evil.example" not in body
    assert "public" not in response.headers.get("Cache-Control", "")


def test_loopback_hosts_are_served(client, published):
    for host in ("localhost", "127.0.0.1:8000", "[::1]:8000"):
        assert client.get("/", headers={"Host": host}).status_code == 200, host


def test_public_url_makes_the_links_and_its_host_is_served(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path), "PUBLIC_URL": "https://gongshi.example.gov.cn",
                      "NOW": "2026-11-23T10:00:00+08:00"})
    client = app.test_client()
    feed = client.get("/feeds/430811.atom", headers={"Host": "gongshi.example.gov.cn"})
    assert feed.status_code == 200 and "https://gongshi.example.gov.cn/" in feed.get_data(as_text=True)
    printed = client.get("/lists/1/print", headers={"Host": "127.0.0.1:5000"}).get_data(as_text=True)
    assert re.search(r"https://gongshi\.example\.gov\.cn/lists/1/v\d+", printed) and "127.0.0.1" not in printed
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400


def test_a_forwarded_host_is_checked_too(tmp_path):
    app = create_app({"INSTANCE_PATH": str(tmp_path), "PROXY_HOPS": 1, "TRUSTED_HOSTS": "gongshi.example.cn, gs.example.cn",
                      "NOW": "2026-11-23T10:00:00+08:00"})
    client = app.test_client()
    assert client.get("/", headers={"X-Forwarded-Host": "gs.example.cn"}).status_code == 200
    assert client.get("/", headers={"X-Forwarded-Host": "evil.example"}).status_code == 400


def test_trusted_hosts_setting():
    assert trusted_hosts({"TRUSTED_HOSTS": "a.cn, b.cn", "PUBLIC_URL": "https://c.cn:8443/x"})[:3] == ["a.cn", "b.cn", "c.cn"]
    assert "localhost" in trusted_hosts({})
