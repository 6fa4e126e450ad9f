"""Issue 19, items 1 and 2: the files clerks really have — xlsx, xls, ods and CSV, read by their content
whatever their name — with headers as people draw them, through both doors (CLI and console)."""

import io

import pytest

from portal.importer import ImportFileError, import_file

from . import books
from .conftest import PASSWORD, login
from .test_importer import household_count, rows, scope

NAMES = ["户主姓名", "身份证号", "家庭人口", "致贫原因", "得票数", "参评人数", "村民小组", "残疾", "独生子女", "纯女户"]


def one_row(table):
    """A title over a one-row header."""
    return [["双星村申请户汇总表"], NAMES, *table], [(0, 0, 0, 9)], 3


def grouped(table):
    """The common 评议得票情况表: identity columns merged over two rows, grouped columns with their
    parent above — the lower row names more fields than the upper one."""
    upper = ["序号", "户主姓名", "身份证号码", "家庭情况", "", "评议情况", "", "村民小组", "三优先", "", ""]
    lower = ["", "", "", "家庭人口", "致贫原因", "得票数", "参评人数", "", "残疾", "独生子女", "纯女户"]
    body = [[i + 1, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9]] for i, r in enumerate(table)]
    merges = [(0, 0, 0, 10), (1, 0, 2, 0), (1, 1, 2, 1), (1, 2, 2, 2), (1, 3, 1, 4), (1, 5, 1, 6), (1, 7, 2, 7),
              (1, 8, 1, 10)]
    return [["中湖乡申请户评议结果"], upper, lower, *body], merges, 4


def parent_over_identity(table):
    """户主 over 姓名 and 身份证号: each child read with its parent (户主姓名, 户主身份证号)."""
    upper = ["户主", "", "家庭人口", "致贫原因", "得票数", "参评人数", "村民小组", "残疾", "独生子女", "纯女户"]
    lower = ["姓名", "身份证号", "", "", "", "", "", "", "", ""]
    merges = [(0, 0, 0, 1)] + [(0, c, 1, c) for c in range(2, 10)]
    return [upper, lower, *table], merges, 3


def notes_under_header(table):
    """A 填表说明 row and a row of column numbers between the header and the data."""
    notes = ["填表说明：身份证号请设为文本格式。"] + [""] * 9
    numbers = [str(i) for i in range(1, 11)]
    return [["表一"], NAMES, notes, numbers, *table], [], 5


def odd_labels(table):
    """Line breaks, spaces and full-width brackets inside labels."""
    labels = ["户主\n姓名", "身份证 号码", "家庭人口（人）", "致贫原因", "得票数(票)", "参评\n人数", "村民小组", "残疾",
              "独生子女", "纯女户"]
    return [labels, *table], [], 2


LAYOUTS = [one_row, grouped, parent_over_identity, notes_under_header, odd_labels]


def book(tmp_path, layout, fmt, n=6, bad=None, name=None):
    table = rows(n)
    if bad is not None:
        table[bad][1] = table[bad][1][:-1] + ("0" if table[bad][1][-1] != "0" else "1")
    grid, merges, first = layout(table)
    if fmt == "csv":
        merges = []                      # a CSV has no merges: the labels sit in their first cell only
    path = books.write(tmp_path / (name or f"{layout.__name__}.{fmt}"), grid, merges, fmt)
    return path, first


@pytest.mark.parametrize("fmt", books.FORMATS)
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda f: f.__name__)
def test_every_format_and_header_arrangement_imports(db, county, tmp_path, layout, fmt):
    path, first = book(tmp_path, layout, fmt)
    before = household_count(db)
    report = import_file(db, path, kind="applicants", scope=scope())
    assert report.ok and report.written and report.added == 6, [p.line() for p in report.problems]
    assert household_count(db) == before + 6
    sizes = {r["head_name"]: r["size"] for r in db.query("select head_name, size from households")}
    assert sizes[rows(6)[3][0]] == rows(6)[3][2]


@pytest.mark.parametrize("fmt", books.FORMATS)
@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda f: f.__name__)
def test_a_bad_row_is_named_by_its_row_in_the_sheet(db, county, tmp_path, layout, fmt):
    path, first = book(tmp_path, layout, fmt, bad=4)
    report = import_file(db, path, kind="applicants", scope=scope())
    assert not report.ok and [p.row for p in report.errors] == [first + 4]
    assert "身份证" in report.errors[0].column


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_a_book_is_read_by_its_content_whatever_its_name(db, county, tmp_path, fmt):
    path, _ = book(tmp_path, grouped, fmt, name="申请户.upload")
    assert import_file(db, path, kind="applicants", scope=scope()).ok
    renamed, _ = book(tmp_path, grouped, fmt, name="申请户.csv")
    report = import_file(db, renamed, kind="applicants", scope=scope(), dry_run=True)
    assert report.ok and report.encoding == {"xlsx": "xlsx", "xls": "xls", "ods": "ods"}[fmt]


def test_the_merged_header_sample_previews_in_the_console(tmp_path):
    """import/samples/中湖乡申请户-合并表头.xlsx, uploaded at the township in the console, which answered
    "xlsx 文件打不开（InvalidFileException）" for any name it was given."""
    from pathlib import Path

    from portal import create_app
    from portal.domain.accounts import create_user
    from portal.runtime import get_db

    from .conftest import CLOCK, ID_KEY, NOW

    app = create_app({"INSTANCE_PATH": str(tmp_path / "inst"), "LOAD_DEMO": True, "NOW": NOW, "TESTING": True,
                      "WTF_CSRF_ENABLED": False, "ID_HASH_KEY": ID_KEY.decode()})
    with app.app_context():
        create_user(get_db(), username="zhonghu", display_name="中湖乡审核员", role="township_reviewer",
                    region_code="430811201", password=PASSWORD, actor="t", actor_role="cli", key=ID_KEY, clock=CLOCK)
    client = app.test_client()
    login(client, "zhonghu", PASSWORD)
    sample = Path(__file__).parents[1] / "import/samples/中湖乡申请户-合并表头.xlsx"
    for name in ("中湖乡申请户-合并表头.xlsx", "申请户.xls", "upload"):
        resp = client.post("/staff/r/430811201/import",
                           data={"kind": "applicants", "file": (io.BytesIO(sample.read_bytes()), name)},
                           content_type="multipart/form-data")
        page = resp.get_data(as_text=True)
        assert "已损坏" not in page and "将导入新增 25" in page, (name, page[page.find("<main"):][:600])


def test_two_columns_that_say_the_same_thing_are_refused(db, county, tmp_path):
    grid = [["户主姓名", "身份证号", "家庭人口", "得票数", "参评人数", "姓名"], ["赵甲", "1", "2", "3", "4", "赵甲"]]
    path = books.write(tmp_path / "a.xlsx", grid)
    with pytest.raises(ImportFileError, match="是同一项"):
        import_file(db, path, kind="applicants", scope=scope())


@pytest.mark.parametrize("fmt", books.FORMATS)
def test_the_console_upload_reads_every_format(app, db, staff, tmp_path, fmt):
    """The console stores an upload under its own name: the format comes from the content."""
    path, _ = book(tmp_path, grouped, fmt)
    client = app.test_client()
    login(client, "clerk", PASSWORD)
    resp = client.post("/staff/r/430811100001/import",
                       data={"kind": "applicants", "file": (io.BytesIO(path.read_bytes()), f"双星村.{fmt}")},
                       content_type="multipart/form-data")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "已损坏" not in page, page[page.find("problem"):][:300]
    assert "新增 6" in page


# --- Item 3: a book with one sheet per village ----------------------------------------------------


def village_book(tmp_path, fmt, bad=None, duplicate=False):
    """双星村 and 河口村 (the fixture's villages) each on a sheet with its own title and header (in
    different column orders), and a sheet of notes."""
    first, second = rows(5), rows(4, start=50)
    if bad is not None:
        second[bad][1] = second[bad][1][:-1] + ("0" if second[bad][1][-1] != "0" else "1")
    if duplicate:
        second[2][1] = first[1][1]
    moved = [NAMES[1], NAMES[0], *NAMES[2:]]                      # 身份证号 before 户主姓名 on this sheet
    sheets = [("填表说明", [["本表每个村一个工作表。"], ["身份证号请设为文本格式。"]]),
              ("双星村", [["双星村申请户"], ["村", *NAMES], *[["双星村", *r] for r in first]]),
              ("河口村", [["河口村申请户"], ["村", *moved], *[["河口村", r[1], r[0], *r[2:]] for r in second]])]
    return books.write_book(tmp_path / f"乡镇.{fmt}", sheets, fmt)


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_every_sheet_of_a_book_is_imported_and_notes_are_skipped(db, county, tmp_path, fmt):
    before = household_count(db)
    report = import_file(db, village_book(tmp_path, fmt), kind="applicants", scope=scope(region="430811100"))
    assert report.ok and report.written and report.added == 9, [p.line() for p in report.problems]
    assert report.sheets == ["双星村", "河口村"] and report.skipped_sheets == ["填表说明"]
    villages = {r["village_code"] for r in db.query("select village_code from households where head_name like '赵%'")}
    assert household_count(db) == before + 9 and villages == {"430811100001", "430811100002"}


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods"])
def test_a_problem_on_one_sheet_stops_the_book_and_names_sheet_and_cell(db, county, tmp_path, fmt):
    before = household_count(db)
    report = import_file(db, village_book(tmp_path, fmt, bad=2), kind="applicants", scope=scope(region="430811100"))
    assert not report.ok and not report.written and household_count(db) == before
    (error,) = report.errors
    assert (error.sheet, error.row, error.where) == ("河口村", 5, "河口村!B5")     # 身份证号 is column B there
    assert error.line().startswith("错误：河口村!B5 第 5 行")
    assert report.csv_text().splitlines()[0].lstrip("\ufeff").startswith("工作表,行号,")


def test_the_same_id_on_two_sheets_names_the_other_sheet(db, county, tmp_path):
    report = import_file(db, village_book(tmp_path, "xlsx", duplicate=True), kind="applicants",
                         scope=scope(region="430811100"))
    assert not report.ok and "与工作表“双星村”第 4 行是同一个身份证号" in report.errors[0].message


def test_a_book_whose_sheets_hold_no_table_is_refused(db, county, tmp_path):
    path = books.write_book(tmp_path / "a.xlsx", [("封面", [["封面"]]), ("说明", [["说明"]])])
    with pytest.raises(ImportFileError, match="封面、说明这些工作表里都找不到表头"):
        import_file(db, path, kind="applicants", scope=scope())


def test_the_console_lists_the_sheets_and_names_problems_by_cell(app, db, staff, tmp_path):
    client = app.test_client()
    login(client, "reviewer", PASSWORD)
    data = village_book(tmp_path, "xlsx", bad=2).read_bytes()
    page = client.post("/staff/r/430811100/import", data={"kind": "applicants", "file": (io.BytesIO(data), "x.xlsx")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert "读取了 2 个工作表：双星村、河口村" in page and "已跳过：填表说明" in page and "<td>河口村!B5</td>" in page


@pytest.mark.parametrize("fmt", ["xls", "ods"])
def test_the_cli_imports_a_book_of_villages(runner, db, county, tmp_path, fmt):
    bad = runner.invoke(args=["import", str(village_book(tmp_path, fmt, bad=2)), "--kind", "applicants",
                              "--campaign", "1", "--region", "430811100"])
    assert bad.exit_code == 1 and "错误：河口村!B5 第 5 行" in bad.output and "已跳过：填表说明" in bad.output
    good = runner.invoke(args=["import", str(village_book(tmp_path, fmt)), "--kind", "applicants",
                               "--campaign", "1", "--region", "430811100"])
    assert good.exit_code == 0 and "读取了 2 个工作表：双星村、河口村" in good.output and "已导入新增 9" in good.output


# --- Item 4: the file given back with its problems in it ------------------------------------------


def _fix(marked, sheet, cell, value):
    import openpyxl

    book = openpyxl.load_workbook(marked)
    book[sheet][cell] = value
    book.save(marked)


def test_the_cli_writes_the_marked_book_which_imports_once_fixed(runner, db, county, tmp_path):
    import openpyxl

    from .test_importer import valid_id

    marked = tmp_path / "标出问题.xlsx"
    bad = runner.invoke(args=["import", str(village_book(tmp_path, "xls", bad=2)), "--kind", "applicants",
                              "--campaign", "1", "--region", "430811100", "--marked", str(marked)])
    assert bad.exit_code == 1 and "标出问题的表格" in bad.output
    book = openpyxl.load_workbook(marked)
    assert book.sheetnames == ["填表说明", "双星村", "河口村"]
    sheet = book["河口村"]
    note = sheet.cell(row=5, column=sheet.max_column).value
    assert sheet.cell(row=2, column=sheet.max_column).value == "问题说明"
    assert "校验位" in note and "B列（身份证号）" in note
    assert sheet["B5"].fill.fgColor.rgb.endswith("FFC7CE") and not sheet["A5"].fill.fgColor.rgb.endswith("FFC7CE")
    _fix(marked, "河口村", "B5", valid_id(52))                        # the clerk corrects the cell ...
    good = runner.invoke(args=["import", str(marked), "--kind", "applicants", "--campaign", "1",
                               "--region", "430811100"])
    assert good.exit_code == 0 and "已导入新增 9" in good.output, good.output     # ... and uploads it again


def test_the_console_offers_the_marked_file_and_takes_it_back(app, db, staff, tmp_path):
    import re

    from .test_importer import valid_id

    client = app.test_client()
    login(client, "clerk", PASSWORD)
    path, first = book(tmp_path, grouped, "csv", bad=4)
    page = client.post("/staff/r/430811100001/import",
                       data={"kind": "applicants", "file": (io.BytesIO(path.read_bytes()), "双星村.csv")},
                       content_type="multipart/form-data").get_data(as_text=True)
    link = re.search(r'href="(/staff/r/430811100001/import/[0-9a-f]{32}\.xlsx)"', page).group(1)
    resp = client.get(link)
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    assert "双星村-问题说明.xlsx" in resp.headers["Content-Disposition"].encode("latin-1").decode("utf-8", "replace") \
        or "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    marked = tmp_path / "back.xlsx"
    marked.write_bytes(resp.data)
    _fix(marked, "申请户", f"C{first + 4}", valid_id(4))
    again = client.post("/staff/r/430811100001/import",
                        data={"kind": "applicants", "file": (io.BytesIO(marked.read_bytes()), "双星村-问题说明.xlsx")},
                        content_type="multipart/form-data").get_data(as_text=True)
    assert "将导入新增 6" in again
    other = app.test_client()
    login(other, "reviewer", PASSWORD)
    assert other.get(link.replace("430811100001", "430811100")).status_code == 404      # only its own uploader


def test_text_that_looks_like_a_formula_stays_text_in_the_marked_copy(tmp_path):
    import openpyxl

    from portal.importer.marked import marked_copy

    path = books.write(tmp_path / "a.csv", [["户主姓名", "身份证号"], ["=HYPERLINK(\"x\")", "1"]])
    out = tmp_path / "m.xlsx"
    out.write_bytes(marked_copy(path, []))
    cell = openpyxl.load_workbook(out)["申请户"]["A2"]
    assert cell.value == '=HYPERLINK("x")' and cell.data_type == "s"


def test_blank_templates_of_every_kind_download_with_text_id_columns(app, staff, tmp_path):
    import openpyxl

    client = app.test_client()
    login(client, "admin", PASSWORD)
    page = client.get("/staff/r/430811/import").get_data(as_text=True)
    for kind in ("applicants", "quotas", "regions"):
        assert f'href="/staff/import/templates/{kind}.xlsx"' in page and f'href="/staff/import/templates/{kind}.csv"' in page
        csv_resp = client.get(f"/staff/import/templates/{kind}.csv")
        assert csv_resp.status_code == 200 and csv_resp.mimetype == "text/csv"
        resp = client.get(f"/staff/import/templates/{kind}.xlsx")
        path = tmp_path / f"{kind}.xlsx"
        path.write_bytes(resp.data)
        sheet = openpyxl.load_workbook(path).active
        header = [c.value for c in sheet[1]]
        assert header == csv_resp.get_data(as_text=True).lstrip("\ufeff").splitlines()[0].split(",")
    id_column = header.index("区划代码") + 1
    assert sheet.cell(row=2, column=id_column).number_format == "@"
    assert client.get("/staff/import/templates/other.xlsx").status_code == 404
    clerk = app.test_client()
    login(clerk, "clerk", PASSWORD)
    page = clerk.get("/staff/r/430811100001/import").get_data(as_text=True)
    assert "templates/applicants.xlsx" in page and "templates/quotas.xlsx" not in page     # what the role may import


@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods", "csv"])
def test_a_one_sheet_book_gets_its_problems_on_its_own_sheet(db, county, tmp_path, fmt):
    """A file read as one table names problems without a sheet; its marked copy puts them on that sheet."""
    import openpyxl

    from portal.importer.marked import marked_copy

    path, first = book(tmp_path, grouped, fmt, bad=4)
    report = import_file(db, path, kind="applicants", scope=scope())
    out = tmp_path / "m.xlsx"
    out.write_bytes(marked_copy(path, report.problems, report.header_rows))
    sheet = openpyxl.load_workbook(out).active
    assert sheet.cell(row=2, column=sheet.max_column).value == "问题说明"
    assert "校验位" in sheet.cell(row=first + 4, column=sheet.max_column).value
    assert sheet[f"C{first + 4}"].fill.fgColor.rgb.endswith("FFC7CE")


def test_a_csv_saved_with_an_xls_name_is_read_as_csv(db, county, tmp_path):
    """Some systems export CSV text under a .xls name: it is read as what it is."""
    path, _ = book(tmp_path, one_row, "csv", name="导出.xls")
    report = import_file(db, path, kind="applicants", scope=scope())
    assert report.ok and report.added == 6 and report.encoding == "UTF-8"
