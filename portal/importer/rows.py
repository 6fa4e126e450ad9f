"""Checking rows: blocks of ``BATCH`` fed to a handler (whole columns when a block is clean), and
the handlers for regions and quotas. Applicants have their own module."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator

from ..domain import rules
from ..domain.campaigns import get_campaign, get_quota, set_quota
from ..domain.numbers import parse_int
from ..domain.regions import add_region, get_region_row, level_of_code
from . import shapes
from .reading import _is_total
from .shapes import MAX_COUNT, RESERVE_WORDS, ImportFileError, Problem, Report, Scope


def check_rows(handler: _Rows, data: Iterator[list[str]], first: int, report: Report) -> None:
    """Feed the data rows to a handler with their spreadsheet row numbers; blank rows are skipped
    and totals rows kept aside to be checked against the sums.

    Rows go in blocks of shapes.BATCH. A handler with a ``batch`` method gets a whole block as columns when
    the block has no blank or totals row and all its rows are equally long; when it declines (or
    there is no such method), the block goes row by row."""
    fast = getattr(handler, "batch", None)
    number = first
    while block := list(itertools.islice(data, shapes.BATCH)):
        if fast is not None and len(set(map(len, block))) == 1 and all(map(any, block)):
            cols = list(zip(*block))
            if not any("计" in "".join(col) for col in cols[:4]) and fast(number, cols, len(block)):
                report.rows += len(block)
                number += len(block)
                continue
        for cells in block:
            if not any(cells):
                pass
            elif _is_total(cells):
                handler.total(number, cells)
            else:
                report.rows += 1
                handler.row(number, cells)
            number += 1


def _file_digest(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class _Rows:
    writer = None       # where checked rows go (applicants only): _ApplicantWriter or the child's pipe
    sheet = ""          # in a book of several sheets, the one being read (problems are named with it)
    sheet_index = 0

    def __init__(self, db, scope: Scope, columns: dict, report: Report):
        self.db, self.scope, self.columns, self.report = db, scope, columns, report
        # Totals rows with the columns of their sheet: (row, cells, columns).
        self.totals: list[tuple[int, list[str], dict]] = []

    def start_sheet(self, index: int, name: str, columns: dict) -> None:
        """Go on with the next sheet of a book, whose header may put the columns elsewhere."""
        if index:
            self.end_sheet()
        self.sheet_index, self.sheet, self.columns = index, name, columns
        self.columns_changed()

    def columns_changed(self) -> None:
        """Recompute what depends on where the columns are (applicants keep an index of them)."""

    def end_sheet(self) -> None:
        """The checks of one sheet's end (its totals rows, for applicants)."""

    def cell(self, row: list[str], field: str) -> str:
        col = self.columns.get(field)
        return row[col[0]] if col and col[0] < len(row) else ""

    def problem(self, number: int, field: str | None, value: str, message: str, level: str = "错误") -> None:
        label = self.columns[field][1] if field in self.columns else ""
        self.report.add(Problem(number, label, value, message, level, self.sheet))

    def integer(self, number, row, field, minimum=0) -> int | None:
        value = self.cell(row, field)
        result = parse_int(value, high=MAX_COUNT)
        if result is None:
            digits = value.isascii() and value.isdigit()
            self.problem(number, field, value, f"数字太大（最多 {MAX_COUNT}）。" if digits else
                         "应填整数（用 0-9 这十个数字）。" if value else "不能为空。")
            return None
        if result < minimum:
            self.problem(number, field, value, f"不能小于 {minimum}。")
            return None
        return result

    def total(self, number: int, row: list[str]) -> None:
        self.totals.append((number, row, self.columns))

    def check_total(self, field: str, computed: int, label: str) -> None:
        for number, row, columns in self.totals:
            col = columns.get(field)
            value = row[col[0]] if col and col[0] < len(row) else ""
            if value and value != str(computed):
                self.problem(number, field, value, f"合计行的{label}与逐行相加的 {computed} 不一致，请核对。")

    def finish(self) -> None:
        pass


class _RegionRows(_Rows):
    def row(self, number, row):
        code, name, parent = self.cell(row, "code"), self.cell(row, "name"), self.cell(row, "parent")
        level = level_of_code(code)
        if level is None:
            return self.problem(number, "code", code, "区划代码应为 6、9、12 或 15 位数字。")
        if not name:
            return self.problem(number, "name", name, "名称不能为空。")
        if not code.startswith(self.scope.region_code):
            return self.problem(number, "code", code, "不在您的管辖范围内。")
        parent = parent or (code[:-3] if level != "county" else "")
        if parent and parent != code[:-3]:
            return self.problem(number, "parent", parent, f"上级代码应为 {code[:-3]}（区划代码去掉最后三位）。")
        if parent and get_region_row(self.db, parent) is None:
            return self.problem(number, "parent", parent, "上级区划不存在：请把上级放在前面的行，或先导入上级。")
        existing = get_region_row(self.db, code)
        if existing is None:
            add_region(self.db, code, name, parent or None)
            self.report.added += 1
        elif existing["name"] != name:
            self.db.execute("update regions set name = ? where code = ?", [name, code])
            self.report.updated += 1
        else:
            self.report.unchanged += 1


class _QuotaRows(_Rows):
    def __init__(self, *args):
        super().__init__(*args)
        self.sum = 0
        self.reserve = None
        self.campaign = get_campaign(self.db, self.scope.campaign_id) if self.scope.campaign_id else None
        if self.campaign is None:
            raise ImportFileError("导入规模指标要指定批次（--campaign）。")
        self.pending: list[tuple[int, dict, int]] = []

    def row(self, number, row):
        code, name = self.cell(row, "code"), self.cell(row, "name")
        persons = self.integer(number, row, "persons")
        if persons is None:
            return
        if not code and any(w in name for w in RESERVE_WORDS):
            self.reserve = (number, persons)
            return
        region = get_region_row(self.db, code) if code else self._by_name(number, name)
        if region is None:
            if code:
                self.problem(number, "code", code, "区划代码不存在。")
            return
        if not region["code"].startswith(self.scope.region_code) or not region["code"].startswith(self.campaign["county_code"]):
            return self.problem(number, "code" if code else "name", code or name, "不在您的管辖范围内或不在本批次所属的县。")
        self.sum += persons
        self.pending.append((number, region, persons))

    def _by_name(self, number, name):
        found = list(self.db.query("select * from regions where name = ? and code like ? and level != 'group'",
                                   [name, self.campaign["county_code"] + "%"]))
        if len(found) != 1:
            self.problem(number, "name", name, "找不到这个地名。" if not found else "有重名的地方，请改填区划代码。")
            return None
        return found[0]

    def finish(self):
        # Parents before children, so each split is checked against a quota that is already set.
        for number, region, persons in sorted(self.pending, key=lambda p: len(p[1]["code"])):
            current = get_quota(self.db, self.campaign["id"], region["code"])
            reserve = current["reserve"] if current else 0
            if self.reserve and region["level"] == "county":
                reserve = self.reserve[1]
            try:
                set_quota(self.db, self.campaign["id"], region["code"], persons, reserve)
            except rules.QuotaError as error:
                self.problem(number, "persons", str(persons), str(error))
                continue
            if current is None:
                self.report.added += 1
            elif (current["persons"], current["reserve"]) != (persons, reserve):
                self.report.updated += 1
            else:
                self.report.unchanged += 1
        if self.reserve and not any(r["level"] == "county" for _, r, _ in self.pending):
            county = self.campaign["county_code"]
            own = get_quota(self.db, self.campaign["id"], county)
            if own is None:
                self.problem(self.reserve[0], "persons", str(self.reserve[1]), "县的规模指标还没有下达，无法设置预留名额。")
            else:
                try:
                    set_quota(self.db, self.campaign["id"], county, own["persons"], self.reserve[1])
                except rules.QuotaError as error:
                    self.problem(self.reserve[0], "persons", str(self.reserve[1]), str(error))
                else:
                    self.report.updated += own["reserve"] != self.reserve[1]
        reserve = self.reserve[1] if self.reserve else 0
        for number, row, columns in self.totals:
            col = columns.get("persons")
            value = row[col[0]] if col and col[0] < len(row) else ""
            if value and value not in (str(self.sum), str(self.sum + reserve)):
                self.problem(number, "persons", value, f"合计行与逐行相加的 {self.sum} 人不一致，请核对。")
