#!/usr/bin/env python3
"""公开账本核对程序 — verify a 公示 portal's public ledger from its public site alone.

    python3 verify.py https://gongshi.example.cn [--head SIZE:HASH] [--all-versions]

Only the Python standard library is used, so it runs anywhere Python 3.8+ does. It:

1. downloads the whole ledger (/ledger.json, page by page) and recomputes every entry's hash and
   its link to the one before;
2. for every list on the site (/lists.json), checks that its current version (or every version,
   with --all-versions) is in the ledger and that what the list's JSON shows now is what the ledger
   recorded: the 校验码, title, window, note, the rows (without names), the names (while the site
   still shows them) and the public replies to objections;
3. checks that every list the ledger knows is still on the site, with no version missing;
4. with --head SIZE:HASH (printed on a posted board: "打印时公开账本共 SIZE 条，末条校验值 HASH"),
   checks that the ledger of that day is the beginning of today's, unchanged. HASH may be its first
   16 or more hex digits.

Exit status 0 when everything agrees; 1 with the first disagreement named; 2 when the site cannot be
read. The hash rule: SHA-256 of "gongshi-ledger-v1\\n" followed by the JSON of the entry's fields
seq, at, kind, ref, content and prev, with keys sorted, separators (",", ":") and non-ASCII kept.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import urllib.error
import urllib.request

GENESIS = "0" * 64
PREFIX = "gongshi-ledger-v1\n"
FIELDS = ("seq", "at", "kind", "ref", "content", "prev")
NAME_FORMS = ("mask", "surname")


class Mismatch(Exception):
    """The first thing that does not agree."""


def canonical(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def entry_hash(entry: dict) -> str:
    return sha256_text(PREFIX + canonical({k: entry[k] for k in FIELDS}))


def fetch_json(base: str, path: str):
    url = path if path.startswith(("http://", "https://")) else base.rstrip("/") + path
    request = urllib.request.Request(url, headers={"Accept": "application/json", "User-Agent": "gongshi-verify/1"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as error:
        raise ConnectionError(f"{url}: HTTP {error.code}") from error
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise ConnectionError(f"{url}: {error}") from error


def download_ledger(base: str) -> list[dict]:
    entries, path = [], "/ledger.json"
    while path:
        page = fetch_json(base, path)
        entries += page["entries"]
        path = page.get("next")          # an absolute URL (or a path below BASE_URL)
    return entries


def check_chain(entries: list[dict]) -> None:
    prev = GENESIS
    for expected, entry in enumerate(entries, start=1):
        if entry.get("seq") != expected:
            raise Mismatch(f"账本第 {expected} 条缺失或次序不对（这里是第 {entry.get('seq')} 条）")
        if entry.get("prev") != prev:
            raise Mismatch(f"账本第 {expected} 条没有接上前一条的校验值")
        if entry_hash(entry) != entry.get("hash"):
            raise Mismatch(f"账本第 {expected} 条的内容和它的校验值对不上（被改动过）")
        prev = entry["hash"]


def check_head(entries: list[dict], head: str) -> None:
    size_text, _, digest = head.partition(":")
    digest = digest.strip().lower().replace(" ", "")
    if not size_text.strip().isdigit() or len(digest) < 16:
        raise ValueError("--head 的写法是 条数:校验值，校验值至少 16 位")
    size = int(size_text)
    if size == 0:
        return
    if size > len(entries):
        raise Mismatch(f"打印的账本有 {size} 条，现在的账本只有 {len(entries)} 条：有记录被删掉了")
    if not entries[size - 1]["hash"].startswith(digest):
        raise Mismatch(f"账本第 {size} 条的校验值和打印的不一样：那以前的记录被改写过")


def rows_digest(rows: list[list]) -> str:
    return sha256_text("rows|" + canonical(rows))


def check_version(body: dict, entry: dict | None) -> None:
    where = f"名单 {body['id']} 第 {body['version']} 版"
    if entry is None:
        raise Mismatch(f"{where}不在账本里（发布时没有记账，或被换过）")
    if entry["kind"] != ("list.publish" if body["version"] == 1 else "list.amend"):
        raise Mismatch(f"{where}在账本第 {entry['seq']} 条里记成了“{entry['kind']}”")
    if body.get("ledger") != {"seq": entry["seq"], "hash": entry["hash"]}:
        raise Mismatch(f"{where}说它记在账本第 {(body.get('ledger') or {}).get('seq')} 条，账本里是第 {entry['seq']} 条")
    c = entry["content"]
    shown = {"list": body["id"], "version": body["version"], "title": body["title"], "region": body["region"]["code"],
             "level": body["level"], "kind": body["kind"], "approving_body": body["approving_body"],
             "window": [body["window"]["start"], body["window"]["end"]],
             "note_sha256": sha256_text(body["change_note"] or ""), "content_hash": body["content_hash"]}
    for key, value in shown.items():
        if c.get(key) != value:
            raise Mismatch(f"{where}的 {key} 和账本第 {entry['seq']} 条记的不一样")
    rows = sorted((e for e in body["entries"] if not e.get("removed")), key=lambda e: e["position"])
    if c.get("count") != len(rows):
        raise Mismatch(f"{where}现在有 {len(rows)} 户，账本第 {entry['seq']} 条记的是 {c.get('count')} 户")
    public = [[e["ref"], e["position"], e["village_code"], e["group"], e["size"], e["causes"], e["votes"],
               e["voters_present"], e["recorded_mark"],
               [e["window"]["start"], e["window"]["end"]] if e.get("window") else None] for e in rows]
    if rows_digest(public) != c.get("rows"):
        raise Mismatch(f"{where}的名单内容（户、人口、得票、备注等）和账本第 {entry['seq']} 条记的不一样")
    names = body.get("names") or {}
    if names.get("salt") and names.get("policy") in NAME_FORMS:
        commitment = sha256_text(f"names|{names['salt']}|" + canonical([e["name"] for e in rows]))
        if commitment != (c.get("names") or {}).get(names["policy"]):
            raise Mismatch(f"{where}显示的户主姓名和账本第 {entry['seq']} 条记的不一样")


def index_once(entries: list[dict], kinds: tuple[str, ...], key) -> dict:
    """Entries of these kinds by ``key``; a second entry for the same version or complaint is itself
    a sign of rewriting (an honest site records each once)."""
    out = {}
    for e in entries:
        if e["kind"] in kinds:
            k = key(e)
            if k in out:
                raise Mismatch(f"账本第 {out[k]['seq']} 条和第 {e['seq']} 条记的是同一件事（{k}）：后一条是补改")
            out[k] = e
    return out


def check_replies(body: dict, replies: dict[int, dict]) -> None:
    for reply in body.get("replies", []):
        entry = replies.get(reply["id"])
        if entry is None or entry["content"]["list"] != body["id"]:
            raise Mismatch(f"名单 {body['id']} 上第 {reply['id']} 件举报的答复不在账本里")
        c = entry["content"]
        if (c["ground"], c["outcome"], c["reply_sha256"]) != (reply["ground"], reply["outcome"],
                                                             sha256_text(reply["reply"] or "")):
            raise Mismatch(f"名单 {body['id']} 上第 {reply['id']} 件举报的答复和账本第 {entry['seq']} 条记的不一样")


def verify(base: str, head: str | None = None, all_versions: bool = False, out=sys.stdout) -> None:
    entries = download_ledger(base)
    check_chain(entries)
    print(f"账本 {len(entries)} 条，逐条核对一致。", file=out)
    if head:
        check_head(entries, head)
        print(f"打印的账本（{head}）是现在账本的开头，没有被改写。", file=out)
    versions = index_once(entries, ("list.publish", "list.amend"), lambda e: e["ref"])
    replies = index_once(entries, ("complaint.reply",), lambda e: e["content"]["complaint"])
    shown_replies: set[int] = set()
    latest: dict[int, int] = {}
    for e in versions.values():
        latest[e["content"]["list"]] = max(latest.get(e["content"]["list"], 0), e["content"]["version"])
    on_site = {item["id"]: item for item in fetch_json(base, "/lists.json")["lists"]}
    for list_id, version in sorted(latest.items()):
        if list_id not in on_site:
            raise Mismatch(f"账本记着名单 {list_id}，网站上却没有了")
        if on_site[list_id]["version"] < version:
            raise Mismatch(f"账本记着名单 {list_id} 的第 {version} 版，网站上只到第 {on_site[list_id]['version']} 版")
    checked = 0
    for list_id, item in sorted(on_site.items()):
        for version in range(1 if all_versions else item["version"], item["version"] + 1):
            body = fetch_json(base, f"/lists/{list_id}/v{version}.json")
            if version == item["version"] and body["content_hash"] != item["content_hash"]:
                raise Mismatch(f"名单 {list_id} 的校验码在名单页和名单目录里不一样")
            check_version(body, versions.get(f"/lists/{list_id}/v{version}"))
            if version == item["version"]:
                check_replies(body, replies)
                shown_replies |= {r["id"] for r in body.get("replies", [])}
            checked += 1
    for complaint, entry in sorted(replies.items()):
        if complaint not in shown_replies:
            raise Mismatch(f"账本第 {entry['seq']} 条记着名单 {entry['content']['list']} 上第 {complaint} 件举报的答复，"
                           "名单上却没有了")
    print(f"{len(on_site)} 份名单的 {checked} 个版本和账本记的一致。", file=out)
    print("核对通过。", file=out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="核对公示网站的公开账本（只需 Python 自带的功能）")
    parser.add_argument("base_url", help="网站地址，例如 https://gongshi.example.cn")
    parser.add_argument("--head", help="张贴的名单上印的“条数:校验值”，核对那时的账本没有被改写")
    parser.add_argument("--all-versions", action="store_true", help="每份名单的每一版都核对（默认只核对现行版）")
    args = parser.parse_args(argv)
    try:
        verify(args.base_url, args.head, args.all_versions)
    except Mismatch as problem:
        print(f"核对不通过：{problem}。", file=sys.stderr)
        return 1
    except (ConnectionError, KeyError, TypeError, ValueError) as problem:
        print(f"无法核对：{problem}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
