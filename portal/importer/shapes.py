"""What an import file may hold (kinds, column synonyms, yes/no spellings, limits), where an
import may write (``Scope``) and what it says back (``Report`` of ``Problem`` rows)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re

from ..clock import Clock
from ..domain import rules, spreadsheet

KINDS = ("regions", "quotas", "applicants")
SYNONYMS = {
    "regions": {
        "code": ("区划代码", "代码"),
        "name": ("名称", "区划名称"),
        "parent": ("上级代码", "上级区划代码"),
    },
    "quotas": {
        "code": ("区划代码", "代码"),
        "name": ("名称", "区划名称", "单位", "乡镇", "村"),
        "persons": ("规模", "指标", "人数", "规模数", "指标数"),
    },
    "applicants": {
        "head_name": ("户主姓名", "户主", "姓名"),
        "id_number": ("身份证号", "身份证号码", "公民身份号码", "户主身份证号"),
        "size": ("家庭人口", "人口", "家庭人口数"),
        "causes": ("致贫原因", "主要致贫原因"),
        "votes": ("得票", "得票数", "票数"),
        "voters_present": ("参评人数", "到会人数"),
        "group": ("村民小组", "组", "小组", "社"),
        "village": ("村", "行政村"),
        "township": ("乡镇", "乡", "镇", "街道"),
        "disabled_member": ("残疾", "有残疾人"),
        "single_child": ("独生子女", "独生子女户"),
        "all_daughters": ("纯女户",),
        "dibao": ("低保户", "低保", "是否低保户", "低保对象"),
        "wubao": ("五保户", "五保", "是否五保户", "五保对象"),
        "income": ("人均纯收入", "家庭人均纯收入", "人均收入"),
        "applied_on": ("申请日期", "申请时间"),
        "proposed": ("拟纳入", "是否入选", "入选"),
    },
}
REQUIRED = {
    "regions": ("code", "name"),
    "quotas": ("persons",),
    "applicants": ("head_name", "id_number", "size", "votes", "voters_present"),
}
TOTAL_WORDS = {"合计", "总计", "小计", "总合计"}
RESERVE_WORDS = ("预留", "机动")
YES = {"是", "√", "✓", "✔", "1", "y", "yes", "有"}
NO = {"", "否", "×", "0", "n", "no", "无"}
CAUSE_KEYS = {label: key for key, (label, _) in rules.CAUSES.items()}
MAX_PROBLEMS = 500
MAX_COUNT = 100_000_000         # the largest number (household size, votes, a quota) a cell may hold
FLAG_VALUES = {**{v: 0 for v in NO}, **{v: 1 for v in YES}}     # exact spellings; others go through row()
BATCH = 5000


class ImportFileError(ValueError):
    """The file cannot be read at all (not a spreadsheet, no header); message in Chinese."""


class NoHeaderError(ImportFileError):
    """No header among a sheet's first rows: in a book of several sheets, a sheet of notes."""


@dataclasses.dataclass
class Problem:
    row: int
    column: str
    value: str
    message: str
    level: str = "错误"
    sheet: str = ""          # in a book of several sheets, the sheet's name

    @property
    def where(self) -> str:
        """The cell as a spreadsheet names it: 炉场村!E37 in a book of sheets, else the row number."""
        if not self.sheet:
            return str(self.row or "")
        letters = re.match(r"[A-Z]+(?=列)", self.column)
        return f"{self.sheet}!{letters.group(0) if letters else ''}{self.row or ''}"

    def line(self) -> str:
        where = (f"{self.where} " if self.sheet else "") + f"第 {self.row} 行" + (f" {self.column}" if self.column else "")
        value = f"“{self.value}”" if self.value else ""
        return f"{self.level}：{where} {value}{self.message}"


@dataclasses.dataclass
class Report:
    kind: str
    filename: str = ""
    encoding: str = ""
    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = dataclasses.field(default_factory=list)
    more_problems: int = 0
    error_count: int = 0
    written: bool = False
    #: In a book: the sheets read (each holding a table) and those skipped (notes, no table, hidden).
    sheets: list[str] = dataclasses.field(default_factory=list)
    skipped_sheets: list[str] = dataclasses.field(default_factory=list)
    #: The first header row of each sheet read ("" for a CSV): where the marked copy writes 问题说明.
    header_rows: dict[str, int] = dataclasses.field(default_factory=dict)

    def problem_records(self) -> list[list]:
        """The problems as plain lists (kept beside an upload for its marked copy)."""
        return [[p.row, p.column, p.value, p.message, p.level, p.sheet] for p in self.problems]

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.level == "错误"]

    @property
    def ok(self) -> bool:
        return self.error_count == 0

    def add(self, problem: Problem) -> None:
        if problem.level == "错误":
            self.error_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)
        elif problem.level == "错误":
            self.more_problems += 1

    def summary(self) -> str:
        verb = "已导入" if self.written else "将导入"
        text = f"共 {self.rows} 行：{verb}新增 {self.added}，更新 {self.updated}，不变 {self.unchanged}。"
        if not self.ok:
            n = self.error_count
            text = f"发现 {n} 处错误，整个文件没有导入（一行也没有写入）。请改正后重新上传。"
        return text

    def csv_text(self) -> str:
        out = io.StringIO()
        out.write("\ufeff")
        writer = spreadsheet.writer(out)
        sheets = any(p.sheet for p in self.problems)
        writer.writerow((["工作表"] if sheets else []) + ["行号", "列", "内容", "问题", "类别"])
        for p in self.problems:
            writer.writerow(([p.sheet] if sheets else []) + [p.row, p.column, p.value, p.message, p.level])
        if self.more_problems:
            writer.writerow(["", "", "", f"另有 {self.more_problems} 处错误未列出", "错误"])
        return out.getvalue()


@dataclasses.dataclass
class Scope:
    """Where an import may write: the campaign, the region subtree, who is doing it, and the
    portal's clock (application dates default to its today; rows are stamped by it)."""

    campaign_id: int | None
    region_code: str
    actor: str
    role: str
    key: bytes
    clock: Clock
    #: The NAME_LATIN setting: household heads' names may hold Latin letters too.
    latin_names: bool = False

    @property
    def today(self) -> dt.date:
        return self.clock.today()
