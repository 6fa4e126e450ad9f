"""The audit log: every staff write, append-only, chained by SHA-256 so that tampering shows.

``record`` is called inside the same transaction as the write it describes (open it with
``db.write_transaction``), so a write and its audit row land together or not at all.
"""

from __future__ import annotations

import hashlib
import hmac
import json

GENESIS = "0" * 64


def _json(value) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def row_hash(row: dict, key: bytes) -> str:
    """HMAC-SHA256 over a row's content and the previous row's hash, keyed with the instance key
    (kept outside the database), so someone holding only the database cannot rewrite the chain."""
    content = json.dumps(
        {k: row[k] for k in ("id", "at", "actor", "role", "action", "object_type", "object_id",
                             "region_code", "before", "after", "prev_hash")},
        ensure_ascii=False, sort_keys=True, separators=(",", ":"),
    )
    return hmac.new(key + b"|audit", content.encode(), hashlib.sha256).hexdigest()


def record(db, *, actor: str, role: str, action: str, object_type: str, object_id, region_code: str | None = None,
           before=None, after=None, key: bytes, clock) -> int:
    """Append one audit row, stamped by the portal's clock; must run inside the write's transaction."""
    if not db.conn.in_transaction:
        raise RuntimeError("audit.record must run inside the write's transaction")
    last = next(db.query("select id, hash from audit_log order by id desc limit 1"), None)
    row = {
        "id": (last["id"] + 1) if last else 1,
        "at": clock.stamp("microseconds"),
        "actor": actor,
        "role": role,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "region_code": region_code,
        "before": _json(before),
        "after": _json(after),
        "prev_hash": last["hash"] if last else GENESIS,
    }
    row["hash"] = row_hash(row, key)
    db["audit_log"].insert(row)
    return row["id"]


def first_broken_row(db, key: bytes) -> int | None:
    """Recompute the chain; the id of the first row that does not match, or None when intact."""
    prev, expected_id = GENESIS, 1
    for row in db.query("select * from audit_log order by id"):
        if row["id"] != expected_id or row["prev_hash"] != prev or row_hash(row, key) != row["hash"]:
            return row["id"]
        prev, expected_id = row["hash"], expected_id + 1
    return None


#: What staff read for each action and object type of the log (the stored names stay English).
ACTION_NAMES = {
    "campaign.create": "建立识别批次",
    "complaint.assign": "安排调查",
    "complaint.conclude": "办结举报",
    "complaint.file": "收到网上举报",
    "complaint.register": "登记电话或来信来访举报",
    "household.create": "录入申请户",
    "household.update": "修改申请户",
    "list.add_omitted": "补录漏评农户",
    "list.correct": "更正名单（取消一户资格，依次递补）",
    "list.replace": "举报查实，取消一户资格并依次递补",
    "list.photo": "上传张榜照片",
    "list.publish": "发布公示名单",
    "notice.create": "发布公告",
    "quota.split": "下达或分解规模指标",
    "retention.run": "按保存期限隐去姓名、删除举报人信息",
    "user.create": "新建账号",
    "user.deactivate": "停用账号",
    "user.password": "修改密码",
    "import.applicants": "导入申请户和得票",
    "import.quotas": "导入规模指标",
    "import.regions": "导入行政区划",
}
OBJECT_NAMES = {"campaign": "批次", "complaint": "举报", "household": "农户", "list": "名单", "notice": "公告",
                "region": "区划", "user": "账号", "import": "导入文件",
                "retention": "保存期限"}


def action_name(action: str) -> str:
    return ACTION_NAMES.get(action, action)


def object_name(object_type: str) -> str:
    return OBJECT_NAMES.get(object_type, object_type)


def entries_for(db, object_type: str, object_id) -> list[dict]:
    return list(db.query(
        "select * from audit_log where object_type = ? and object_id = ? order by id",
        [object_type, str(object_id)]))
