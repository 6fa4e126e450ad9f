"""Domain rules of identification and publicity (DOMAIN.md §11), as plain functions.

Nothing here imports Flask or touches the database: the web views, the CLI and the tests all
call these same functions with plain values.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence

LEVELS = ("county", "township", "village", "group")
LIST_LEVELS = ("village", "township", "county")
LEVEL_NAMES = {"county": "县（区）", "township": "乡镇", "village": "村", "group": "村民小组"}

LIST_KINDS = {
    "identify": "识别纳入",
    "exit": "脱贫退出",
    "remove": "剔除",
    "replace": "递补",
    "reenter": "返贫纳入",
}
#: The kinds that change the register of households already filed (动态管理, DOMAIN §6).
ADJUSTMENT_KINDS = ("remove", "exit", "reenter")

#: Causes of poverty as the national filing system lists them, each with the label public pages
#: use. Illness and disability are never shown (DOMAIN §11 rule 11); hiding only them would give
#: them away ("不公开" = ill), so they share one public label with schooling and lack of labour.
CAUSES = {
    "illness": ("因病", "家庭原因"),
    "disability": ("因残", "家庭原因"),
    "schooling": ("因学", "家庭原因"),
    "labour": ("缺劳力", "家庭原因"),
    "disaster": ("因灾", "因灾"),
    "land": ("缺土地", "缺土地"),
    "water": ("缺水", "缺水"),
    "skills": ("缺技术", "缺技术"),
    "capital": ("缺资金", "缺资金"),
    "transport": ("交通条件落后", "交通条件落后"),
    "motivation": ("自身发展动力不足", "自身发展动力不足"),
}
PUBLIC_CAUSES_NOTE = "致贫原因中的因病、因残、因学、缺劳力统一显示为“家庭原因”，以保护个人隐私。"

RANKING_RULE_TEXT = (
    "按得票数从高到低排序；得票相同的，依次按“三优先”项数（有残疾人、独生子女户、纯女户）多者在前，"
    "家庭人均纯收入低者在前，申请日期早者在前。"
)

DEFAULT_CHAIN = (
    {"level": "village", "name": "初选公示", "days": 7},
    {"level": "township", "name": "审核公示", "days": 7},
    {"level": "county", "name": "审定公告", "days": 15},
)


@dataclasses.dataclass(frozen=True)
class Applicant:
    """What ranking and selection need to know about one applicant household."""

    id: int
    size: int
    votes: int
    priority_count: int = 0
    income_per_capita: float = 0.0
    applied_on: dt.date = dt.date.min
    #: Registered by civil affairs as a 低保 (minimum-livelihood) or 五保 (five-guarantee) household.
    dibao: bool = False
    wubao: bool = False


def rank_key(a: Applicant):
    """Votes high first; ties by more 三优先 flags, lower income, earlier application, then id."""
    return (-a.votes, -a.priority_count, a.income_per_capita, a.applied_on, a.id)


def rank(applicants: Iterable[Applicant]) -> list[Applicant]:
    """Applicants of one village in ranking order (DOMAIN §11 rule 4)."""
    return sorted(applicants, key=rank_key)


#: What a campaign may say about 低保 households (DOMAIN §3: the documents differ; S0 and S3 include
#: them all, S1 excludes them, the others are silent and rank them like anyone).
DIBAO_RULES = {
    "included": "低保户全部纳入（在规模指标内先于其他农户入选，不论得票）",
    "ranked": "低保户与其他农户一样按得票排序",
    "excluded": "低保户不纳入本批次识别",
}
#: The mark a 低保 household taken by the "included" rule carries on the public list.
DIBAO_MARK = "低保户，按规定纳入"
WUBAO_OUT = "五保户由民政部门供养，不纳入本批次识别"
DIBAO_OUT = "低保户不纳入本批次识别"


@dataclasses.dataclass(frozen=True)
class Scope:
    """A campaign's scope rules (DOMAIN §11 rule 2): who is out of scope, who goes first, and the
    income line above which a household is flagged for the reviewer (not dropped: income is
    self-declared and the reviewer checks it, 五比五看)."""

    dibao: str = "ranked"
    wubao_excluded: bool = False
    income_line: int | None = None

    def __post_init__(self):
        if self.dibao not in DIBAO_RULES:
            raise ValueError(f"unknown 低保 rule {self.dibao!r}")

    @classmethod
    def of(cls, campaign: dict) -> Scope:
        """The scope of a campaign row (``scope`` parsed from its JSON, ``income_line``)."""
        scope = campaign.get("scope") or {}
        dibao = scope.get("dibao")
        if dibao is None:       # campaigns stored before the tri-state rule
            dibao = "included" if scope.get("dibao_included", True) else "excluded"
        return cls(dibao=dibao, wubao_excluded=bool(scope.get("wubao_excluded", True)),
                   income_line=campaign.get("income_line"))

    def out_of_scope(self, a: Applicant) -> str | None:
        """Why this applicant cannot be selected in this campaign, or None."""
        if a.wubao and self.wubao_excluded:
            return WUBAO_OUT
        if a.dibao and self.dibao == "excluded":
            return DIBAO_OUT
        return None

    def walk(self, applicants: Iterable[Applicant]) -> list[Applicant]:
        """The in-scope applicants in the order selection and 依次递补 take them: the ranking, with
        低保 households first when the campaign includes them all."""
        first = self.dibao == "included"
        return sorted((a for a in applicants if self.out_of_scope(a) is None),
                      key=lambda a: (not (first and a.dibao), rank_key(a)))

    def above_line(self, a: Applicant) -> bool:
        return self.income_line is not None and a.income_per_capita > self.income_line

    def mark(self, a: Applicant) -> str:
        """The public note of the rule that took this household, if any rule but the vote did."""
        return DIBAO_MARK if a.dibao and self.dibao == "included" else ""

    def text(self) -> str:
        """The scope rules in one sentence for the public list page."""
        parts = [DIBAO_RULES[self.dibao]]
        if self.wubao_excluded:
            parts.append("五保户不纳入")
        if self.income_line is not None:
            parts.append(f"扶贫标准为家庭人均纯收入 {self.income_line} 元/年，高于标准的申请户由审核人员逐户核实")
        return "识别范围：" + "；".join(parts) + "。"


@dataclasses.dataclass(frozen=True)
class Selection:
    selected: tuple[Applicant, ...]
    waiting: tuple[Applicant, ...]
    quota: int
    #: Applicants the campaign's scope rules leave out, each with the reason.
    excluded: tuple[tuple[Applicant, str], ...] = ()

    @property
    def persons(self) -> int:
        return sum(a.size for a in self.selected)

    @property
    def unused(self) -> int:
        return self.quota - self.persons


def select_within_quota(
    applicants: Iterable[Applicant], quota: int, *, stop_at_first_misfit: bool = False, scope: Scope = Scope()
) -> Selection:
    """Walk the ranking and take every household that still fits the quota in persons.

    A household that does not fit is left on the waiting list; with ``stop_at_first_misfit``
    the walk ends there instead (a per-campaign setting). The waiting list keeps the walk's order.
    The campaign's ``scope`` leaves some households out and may put 低保 households first.
    """
    if quota < 0:
        raise ValueError("quota must not be negative")
    applicants = list(applicants)
    excluded = tuple((a, why) for a in rank(applicants) if (why := scope.out_of_scope(a)))
    selected, waiting = [], []
    used, stopped = 0, False
    for a in scope.walk(applicants):
        if not stopped and used + a.size <= quota:
            selected.append(a)
            used += a.size
        else:
            waiting.append(a)
            stopped = stopped or stop_at_first_misfit
    return Selection(tuple(selected), tuple(waiting), quota, excluded)


def replacements(waiting: Iterable[Applicant], free: int, *, stop_at_first_misfit: bool = False,
                 scope: Scope = Scope()) -> list[Applicant]:
    """依次递补 (DOMAIN §11 rule 8): walk the waiting list in the selection's order and take each
    household that fits the freed quota (persons); one that does not fit is passed over (or ends the
    walk, with the campaign's stop setting). Never above the quota: what is left stays unused.
    Households out of the campaign's scope are never taken."""
    chosen = []
    for a in scope.walk(waiting):
        if a.size <= free:
            chosen.append(a)
            free -= a.size
        elif stop_at_first_misfit:
            break
    return chosen


class QuotaError(ValueError):
    """A selection or quota split that breaks 规模控制; the message is for the user, in Chinese."""


class PublishError(ValueError):
    """A list that may not be published as asked; the message is for the user, in Chinese."""


def check_selection_within_quota(persons: int, quota: int | None, region_name: str) -> None:
    """Refuse a list whose households hold more persons than the region's quota."""
    if quota is None:
        raise QuotaError(f"{region_name}尚未下达规模指标，不能公示名单。")
    if persons > quota:
        raise QuotaError(
            f"{region_name}的规模指标为 {quota} 人，所选农户合计 {persons} 人，"
            f"超出 {persons - quota} 人。超出分解规模的不予认定，请调整名单。"
        )


def check_quota_split(
    parent_name: str, parent_quota: int, children: Sequence[tuple[str, int]], reserve: int = 0
) -> None:
    """Refuse a split whose children plus reserve exceed the parent's quota."""
    if parent_quota < 0 or reserve < 0 or any(q < 0 for _, q in children):
        raise QuotaError("规模指标不能为负数。")
    total = sum(q for _, q in children) + reserve
    if total > parent_quota:
        raise QuotaError(
            f"{parent_name}的规模指标为 {parent_quota} 人，下级分解合计 {total} 人"
            f"（含预留机动名额 {reserve} 人），超出 {total - parent_quota} 人。"
        )


# --- Publicity windows -------------------------------------------------------------------------

NOT_OPEN, OPEN, CLOSED = "not_open", "open", "closed"
STATUS_NAMES = {NOT_OPEN: "尚未开始", OPEN: "公示中", CLOSED: "已结束"}


@dataclasses.dataclass(frozen=True)
class Window:
    """A publicity window of whole calendar days: 00:00 of ``start`` to 24:00 of ``end``."""

    start: dt.date
    end: dt.date

    def __post_init__(self):
        if self.end < self.start:
            raise ValueError("a window must end on or after its first day")

    @classmethod
    def of_days(cls, start: dt.date, days: int) -> Window:
        if days < 1:
            raise ValueError("a window lasts at least one day")
        return cls(start, start + dt.timedelta(days=days - 1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclasses.dataclass(frozen=True)
class WindowState:
    status: str
    #: open: calendar days left counting today; not_open: days until the first day; closed: days since.
    days: int
    text: str

    @property
    def label(self) -> str:
        return STATUS_NAMES[self.status]


def local_date(now: dt.datetime, tz: dt.tzinfo) -> dt.date:
    """The calendar date at ``now`` in the portal's time zone (Asia/Shanghai by default)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(tz).date()


def window_state(window: Window, today: dt.date) -> WindowState:
    """Where a window stands on ``today``, with a plain-Chinese line for villagers."""
    end_text = f"{window.end.month}月{window.end.day}日24时"
    if today < window.start:
        n = (window.start - today).days
        when = "明天" if n == 1 else f"{n} 天后"
        return WindowState(
            NOT_OPEN, n, f"尚未开始，{when}（{window.start.month}月{window.start.day}日）开始公示"
        )
    if today > window.end:
        n = (today - window.end).days
        year = f"{window.end.year}年" if window.end.year != today.year else ""
        return WindowState(CLOSED, n, f"公示已于{year}{end_text}结束")
    left = (window.end - today).days + 1
    if left == 1:
        return WindowState(OPEN, 1, f"今天是公示最后一天，{end_text}结束")
    return WindowState(OPEN, left, f"距公示结束还有 {left} 天（含今天），{end_text}结束")


#: A window counts whole days only (issue 16, item 14): a list published on its first day counts that
#: day only when it goes up before this time (Asia/Shanghai); later, the earliest start is tomorrow.
SAME_DAY_CUTOFF = dt.time(12, 0)


def earliest_start(now: dt.datetime) -> dt.date:
    """The first day a window may start when published at ``now`` (local time in the portal's zone)."""
    return now.date() if now.time() < SAME_DAY_CUTOFF else now.date() + dt.timedelta(days=1)


def start_problem(start: dt.date, now: dt.datetime) -> str | None:
    """Why a window may not start on ``start`` when published at ``now``; None if it may."""
    if start < now.date():
        return "公示开始日期不能早于今天。"
    if start < earliest_start(now):
        return (f"今天已过 {SAME_DAY_CUTOFF:%H:%M}，今天不能算作完整的一天：公示最早从明天"
                f"（{now.date() + dt.timedelta(days=1):%Y-%m-%d}）开始，才能保证公示满规定天数。")
    return None


# --- The chain rule ----------------------------------------------------------------------------


def chain_of(campaign: dict, kind: str) -> list[dict]:
    """The publicity chain of ``kind`` in a campaign: its own (``chains``, e.g. an exit list's village
    publicity → county announcement) or the campaign's."""
    return list((campaign.get("chains") or {}).get(kind) or campaign["chain"])


def lower_level(chain: Sequence[dict], level: str) -> str | None:
    """The level whose publicity must close before ``level`` may open, or None for the first."""
    levels = [step["level"] for step in chain]
    if level not in levels:
        raise ValueError(f"level {level!r} is not in this campaign's publicity chain")
    i = levels.index(level)
    return levels[i - 1] if i else None


def chain_problems(
    *,
    level: str,
    chain: Sequence[dict],
    on: dt.date,
    lower_windows: Sequence[tuple[str, Window | None]],
    open_complaints: int = 0,
) -> list[str]:
    """Reasons (in Chinese) why a list of ``level`` may not be published on day ``on``; empty if it may.

    ``lower_windows`` pairs each lower-level unit (name) with the window of its list, or None when
    that unit has published no list yet. A level is published only after every window of the level
    below has closed — on the day after its last day at the earliest, whatever start date it asks
    for, because its content is gathered from the lower lists at publication — and every complaint
    filed in those windows is concluded (DOMAIN §11 rule 6).
    """
    below = lower_level(chain, level)
    if below is None:
        return []
    problems = []
    if not lower_windows:
        problems.append(f"下一级（{LEVEL_NAMES[below]}）还没有公示过名单。")
    for name, window in lower_windows:
        if window is None:
            problems.append(f"{name}还没有公示名单。")
        elif window.end >= on:
            problems.append(
                f"{name}的公示到 {window.end.isoformat()} 才结束，本级名单最早 "
                f"{(window.end + dt.timedelta(days=1)).isoformat()} 才能发布。"
            )
    if open_complaints:
        problems.append(f"下一级公示期内还有 {open_complaints} 件举报没有办结，办结后才能发布。")
    return problems


def earliest_publication(lower_windows: Sequence[tuple[str, Window | None]]) -> dt.date | None:
    """The first day every lower window has closed (None while a unit has no list yet)."""
    if not lower_windows or any(w is None for _, w in lower_windows):
        return None
    return max(w.end for _, w in lower_windows) + dt.timedelta(days=1)
