"""Applicant households with their votes: every row checked (names, ID numbers, sizes, causes,
flags, villages and groups, duplicates within the file and the campaign), written in batches."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import operator
import re

from ..domain import rules
from ..domain.campaigns import BOTH_DIBAO_AND_WUBAO, get_campaign, get_quota
from ..domain.privacy import (
    ID_CHECK,
    id_hasher,
    id_number_problem,
    mask_id,
    name_pattern,
    name_problem,
    normalise_name,
)
from ..domain.regions import level_of_code
from . import shapes
from .rows import _Rows
from .shapes import CAUSE_KEYS, FLAG_VALUES, NO, YES, ImportFileError, Problem


class _ApplicantRows(_Rows):
    def __init__(self, *args):
        super().__init__(*args)
        scope = self.scope
        self.campaign = get_campaign(self.db, scope.campaign_id) if scope.campaign_id else None
        if self.campaign is None:
            raise ImportFileError("导入申请户要指定批次（--campaign）。")
        county = self.campaign["county_code"]
        self.villages: dict[str, list[dict]] = {}
        for r in self.db.query("select v.code, v.name, t.name as township from regions v join regions t "
                               "on t.code = v.parent_code where v.level = 'village' and v.code like ?", [county + "%"]):
            self.villages.setdefault(r["name"], []).append(r)
        self.groups = {(r["parent_code"], r["name"]): r["code"] for r in self.db.query(
            "select code, name, parent_code from regions where level = 'group' and code like ?", [county + "%"])}
        self.existing: dict[str, tuple] = {}
        for r in self.db.query(
                "select h.id, h.id_hash, h.village_code, h.head_name, h.size, h.group_code, h.causes, "
                "h.income_per_capita, h.disabled_member, h.single_child, h.all_daughters, h.dibao, h.wubao, "
                "v.votes, v.voters_present "
                "from households h left join votes v on v.household_id = h.id "
                "where h.campaign_id = ? and h.id_hash is not null", [self.campaign["id"]]):
            self.existing[r["id_hash"]] = r
        # Households in a published ranking (the vote of record): their data is not changed by an import.
        self.ranked = {r["household_id"] for r in self.db.query(
            "select r.household_id from rankings r join lists l on l.id = r.list_id where l.campaign_id = ?",
            [self.campaign["id"]])}
        # ID hash -> first row, keyed by the hash's first 16 bytes (a third of the hex string's
        # memory at a million rows; a false match would need a 128-bit collision).
        self.seen: dict[bytes, int] = {}
        self.next_id = (next(self.db.query("select max(id) as m from households"))["m"] or 0) + 1
        self.households, self.votes, self.updates = [], [], []
        self.persons = 0
        self.proposed: dict[str, int] = {}
        self.hash_id = id_hasher(scope.key)
        self.inner, self.outer = self.hash_id.states
        self.default_village = scope.region_code if level_of_code(scope.region_code) == "village" else None
        self.village_names = {c["code"]: c["name"] for cs in self.villages.values() for c in cs}
        self.village_cache: dict[tuple[str, str], str] = {}
        self.causes_cache: dict[str, str] = {}
        self.today = scope.today.isoformat()
        self.name_ok = name_pattern(scope.latin_names).fullmatch
        self.sheet_names = [""]
        self.columns_changed()
        if self.default_village:
            self.village_cache[("", "")] = self.default_village

    def pick(self, row: list[str]) -> tuple:
        if len(row) < self.width:
            row.extend([""] * (self.width - len(row)))
        row.append("")
        return self._getter(row)

    def batch(self, number: int, cols: list[tuple[str, ...]], n: int) -> bool:
        """The fast path for a block of n consecutive rows given as columns: every check of row()
        done a column at a time with C-level built-ins, for the usual case where every cell is
        clean. Returns False, having changed nothing, as soon as any cell is not plainly right (an
        error, a hint, a village or cause not seen before, a re-imported ID ...); the caller then
        sends the block through row(), which finds and words the problem."""
        if self.has_dates or self.report.error_count:
            return False
        blank = ("",) * n
        names, raw_ids, sizes, causes, votes, voters, groups, disabled, single, daughters, dibao, wubao, incomes, \
            proposed, village_names, townships = (blank if i is None or i >= len(cols) else cols[i] for i in self.indexes)
        if not all(map(self.name_ok, names)) or any(proposed):
            return False
        ids = list(map(str.upper, raw_ids))
        bodies = [i[:17] for i in ids]
        digits = "".join(bodies)
        if set(map(len, ids)) != {18} or not (digits.isdigit() and digits.isascii()):
            return False
        if [ID_CHECK[2 * int(b, 13) % 11] for b in bodies] != list(map(operator.itemgetter(17), ids)):
            return False
        numbers = []
        for column, least in ((sizes, 1), (votes, 0), (voters, 1)):
            digits = "".join(column)
            if not (all(column) and digits.isdigit() and digits.isascii()):
                return False
            values = list(map(int, column))
            if min(values) < least:
                return False
            numbers.append(values)
        sizes, votes, voters = numbers
        if any(map(operator.gt, votes, voters)):
            return False
        villages = list(map(self.village_cache.get, zip(village_names, townships)))
        causes = list(map(self.causes_cache.get, causes))
        if None in villages or None in causes:
            return False
        if not any(incomes):
            incomes = [0.0] * n
        elif not all(incomes) or "," in "".join(incomes):
            return False
        else:
            try:
                incomes = list(map(float, incomes))
            except ValueError:
                return False
            if min(incomes) < 0 or not all(map(math.isfinite, incomes)):
                return False
        flags = [list(map(FLAG_VALUES.get, column)) for column in (disabled, single, daughters, dibao, wubao)]
        if any(None in column for column in flags) or any(map(operator.and_, flags[3], flags[4])):
            return False
        group_codes = [None] * n
        if any(groups):
            group_codes = [self.groups.get((v, g)) if g else None for v, g in zip(villages, groups)]
            if any(g and c is None for g, c in zip(groups, group_codes)):
                return False
        inner, outer = self.inner.copy, self.outer.copy
        hashes = []
        for value in map(str.encode, ids):
            mac = inner()
            mac.update(value)
            mac_outer = outer()
            mac_outer.update(mac.digest())
            hashes.append(mac_outer.hexdigest())
        keys = [bytes.fromhex(h[:32]) for h in hashes]
        if len(set(keys)) != n or not self.seen.keys().isdisjoint(keys) or not self.existing.keys().isdisjoint(hashes):
            return False
        # Every cell is right: record the block.
        self.seen.update(zip(keys, range(self.offset + number, self.offset + number + n)))
        household_ids = range(self.next_id, self.next_id + n)
        self.next_id += n
        masks = ["**************" + i[-4:] for i in ids]
        packed = [a | b << 1 | c << 2 | d << 3 | e << 4 for a, b, c, d, e in zip(*flags)]
        self.households.extend(zip(household_ids, villages, group_codes, names, sizes, causes, incomes, packed,
                                   itertools.repeat(self.today, n), hashes, masks))
        self.votes.extend(zip(household_ids, votes, voters))
        self.persons += sum(sizes)
        self.report.added += n
        if len(self.households) >= shapes.BATCH:
            self.flush()
        return True

    def village_of(self, number, name: str, township: str) -> str | None:
        """The village code for a row's 村 (and 乡镇) cells, or None with a problem reported."""
        if not name:
            if self.default_village:
                return self.default_village
            self.problem(number, "village" if "village" in self.columns else None, "",
                         "没有填村名：表格要有“村”列，或在村的页面导入。")
            return None
        candidates = self.villages.get(name, [])
        if township:
            candidates = [c for c in candidates if c["township"] == township]
        if len(candidates) != 1:
            msg = "在本县找不到这个村。" if not candidates else "本县有重名的村，请加上“乡镇”列。"
            self.problem(number, "village", name, msg)
            return None
        code = candidates[0]["code"]
        if not code.startswith(self.scope.region_code):
            self.problem(number, "village", name, "不在您的管辖范围内。")
            return None
        self.village_cache[(name, township)] = code
        return code

    def flag(self, number, row, field) -> int:
        value = self.cell(row, field).lower()
        if value in YES:
            return 1
        if value not in NO:
            self.problem(number, field, value, "请填“是”或“否”（也可用 √ 表示是）。")
        return 0

    def row(self, number, row):
        # Hot path (a million rows must go through in seconds): plain locals, one pass, and the
        # full checks (self.integer, self.flag ...) only for a cell the quick test does not accept.
        report = self.report
        errors_before = report.error_count
        name, raw_id, size_text, causes_text, votes_text, voters_text, group_name, disabled, single, daughters, \
            dibao, wubao, income_text, proposed, village_name, township = self.pick(row)
        if not self.name_ok(name):
            name = normalise_name(name)
            if problem := name_problem(name, self.scope.latin_names):
                self.problem(number, "head_name", "".join(c if c.isprintable() else "?" for c in name), problem)
        id_value = raw_id.replace(" ", "").upper()
        id_hash = None
        body = id_value[:17]            # valid_id18, inlined
        if len(id_value) == 18 and body.isdigit() and body.isascii() and ID_CHECK[2 * int(body, 13) % 11] == id_value[17]:
            mac = self.inner.copy()     # id_hasher, inlined
            mac.update(id_value.encode())
            outer = self.outer.copy()
            outer.update(mac.digest())
            id_hash = outer.hexdigest()
        elif not id_value:
            self.problem(number, "id_number", "", "身份证号不能为空（用于查重，网上不公开）。")
        elif problem := id_number_problem(id_value):
            if "科学计数法" in problem:
                problem = ("身份证号被 Excel 变成了科学计数法，后几位已经丢失：请把这一列设为“文本”格式，"
                           "重新填写身份证号后再导入。")
            self.problem(number, "id_number", raw_id if "E+" in id_value else mask_id(id_value), problem)
        else:
            if len(id_value) == 15:
                self.problem(number, "id_number", mask_id(id_value), "这是 15 位旧身份证号，已接受，请核对是否已换发新证。", "提示")
            id_hash = self.hash_id(id_value)
        if id_hash is not None:
            first = self.seen.setdefault(bytes.fromhex(id_hash[:32]), self.offset + number)
            if first != self.offset + number:
                sheet = self.sheet_names[first >> 32]
                where = (f"工作表“{sheet}”" if sheet != self.sheet else "") + f"第 {first & 0xFFFFFFFF} 行"
                self.problem(number, "id_number", mask_id(id_value),
                             f"与{where}是同一个身份证号：同一人不能登记两次（可能拆户或空挂户）。")
                id_hash = None
        size = int(size_text) if size_text.isascii() and size_text.isdigit() and len(size_text) < 7 else 0
        if size < 1:
            size = self.integer(number, row, "size", 1)
        votes = int(votes_text) if votes_text.isascii() and votes_text.isdigit() and len(votes_text) < 7 \
            else self.integer(number, row, "votes")
        voters = int(voters_text) if voters_text.isascii() and voters_text.isdigit() and len(voters_text) < 7 else 0
        if voters < 1:
            voters = self.integer(number, row, "voters_present", 1)
        if votes is not None and voters is not None and votes > voters:
            self.problem(number, "votes", str(votes), f"得票数不能多于参评人数（{voters}）。")
        village = self.village_cache.get((village_name, township)) or self.village_of(number, village_name, township)
        causes_json = self.causes_cache.get(causes_text)
        if causes_json is None:
            causes_json = self.parse_causes(number, causes_text)
        if not income_text:
            income = 0.0
        elif income_text.isascii() and income_text.isdigit() and len(income_text) < 16:
            income = float(income_text)
        else:
            try:
                income = float(income_text.replace(",", ""))
                if income < 0 or not math.isfinite(income) or not income_text.isascii():
                    raise ValueError
            except ValueError:
                self.problem(number, "income", income_text, "人均纯收入应填不小于 0 的数字。")
                income = 0.0
        applied_on = self._date(number, row) if self.has_dates else self.today
        no = NO
        flags = (0 if disabled in no else self.flag(number, row, "disabled_member"),
                 0 if single in no else self.flag(number, row, "single_child"),
                 0 if daughters in no else self.flag(number, row, "all_daughters"),
                 0 if dibao in no else self.flag(number, row, "dibao"),
                 0 if wubao in no else self.flag(number, row, "wubao"))
        if flags[3] and flags[4]:
            self.problem(number, "wubao", wubao, BOTH_DIBAO_AND_WUBAO)
        group = None
        if group_name and village:
            group = self.groups.get((village, group_name))
            if group is None:
                self.problem(number, "group", group_name, "本村没有这个村民小组，已按“不分组”导入。", "提示")
        if proposed and village and size and self.flag(number, row, "proposed"):
            self.proposed[village] = self.proposed.get(village, 0) + size
        if size:
            self.persons += size          # the totals row is checked against every row's size
        if report.error_count > errors_before or id_hash is None or causes_json is None:
            return
        old = self.existing.get(id_hash)
        if old is None:
            hid = self.next_id
            self.next_id = hid + 1
            self.households.append((hid, village, group, name, size, causes_json, income,
                                    flags[0] | flags[1] << 1 | flags[2] << 2 | flags[3] << 3 | flags[4] << 4,
                                    applied_on, id_hash,
                                    "*" * (len(id_value) - 4) + id_value[-4:]))
            self.votes.append((hid, votes, voters))
            report.added += 1
            if len(self.households) >= shapes.BATCH:
                self.flush()
            return
        if old["village_code"] != village:
            place = self.village_names.get(old["village_code"], old["village_code"])
            self.problem(number, "id_number", mask_id(id_value),
                         f"这个身份证号已登记在{place}的“{old['head_name']}”户：同一人不能在两处登记（可能拆户或空挂户）。")
            return
        fields = (name, size, group, causes_json, income, *flags, votes, voters)
        current = (old["head_name"], old["size"], old["group_code"], old["causes"], old["income_per_capita"],
                   old["disabled_member"], old["single_child"], old["all_daughters"], old["dibao"], old["wubao"],
                   old["votes"], old["voters_present"])
        if current == fields:
            report.unchanged += 1
            return
        if old["id"] in self.ranked:
            self.problem(number, "head_name", name, "这户已列入公示时的票决排名，信息不能通过导入修改；"
                         "如登记有误，请按程序更正名单。")
            return
        self.updates.append((*fields, old["id"]))
        report.updated += 1
        if len(self.updates) >= shapes.BATCH:
            self.flush()

    def parse_causes(self, number, text) -> str | None:
        causes = []
        ok = True
        for label in re.split(r"[、,，;；/\s]+", text):
            if not label:
                continue
            key = CAUSE_KEYS.get(label)
            if key is None:
                self.problem(number, "causes", label, "不是规定的致贫原因（" + "、".join(CAUSE_KEYS) + "）。")
                ok = False
            elif key not in causes:
                causes.append(key)
        if not ok:
            return None
        self.causes_cache[text] = result = json.dumps(causes)
        return result

    def _date(self, number, row) -> str:
        text = self.cell(row, "applied_on")
        if not text:
            return self.scope.today.isoformat()
        m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?", text)
        try:
            return dt.date(*map(int, m.groups())).isoformat() if m else dt.date.fromisoformat(text).isoformat()
        except (ValueError, TypeError):
            self.problem(number, "applied_on", text, "日期格式不对，请写成 2026-03-01。")
            return self.scope.today.isoformat()

    def flush(self):
        """Hand the checked rows to the writer, unless an error means nothing will be written."""
        if not self.report.error_count and (self.households or self.updates):
            self.writer(self.households, self.votes, self.updates)
        self.households, self.votes, self.updates = [], [], []

    ORDER = ("head_name", "id_number", "size", "causes", "votes", "voters_present", "group", "disabled_member",
             "single_child", "all_daughters", "dibao", "wubao", "income", "proposed", "village", "township")

    def columns_changed(self):
        self.has_dates = "applied_on" in self.columns
        self.width = max(i for i, _ in self.columns.values()) + 1
        # A field the file does not have reads an empty cell that pick() appends to every row (the
        # cell after the last known column may be a 备注 column the file does have).
        self.indexes = [self.columns[f][0] if f in self.columns else None for f in self.ORDER]
        self._getter = operator.itemgetter(*(-1 if i is None else i for i in self.indexes))
        # Rows of a book's sheets are told apart in ``seen`` by the sheet's number above bit 32.
        self.offset = self.sheet_index << 32
        if self.sheet_index < len(self.sheet_names):
            self.sheet_names[self.sheet_index] = self.sheet
        else:
            self.sheet_names.append(self.sheet)

    def end_sheet(self):
        """A sheet's 合计 row is checked against that sheet's rows."""
        self.check_total("size", self.persons, "家庭人口")
        self.totals, self.persons = [], 0

    def finish(self):
        self.flush()
        self.end_sheet()
        for village, persons in self.proposed.items():
            quota = get_quota(self.db, self.campaign["id"], village)
            name = self.village_names.get(village, village)
            try:
                rules.check_selection_within_quota(persons, quota["persons"] if quota else None, name)
            except rules.QuotaError as error:
                self.report.add(Problem(0, "拟纳入", "", str(error)))
