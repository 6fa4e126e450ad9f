"""Importing messy spreadsheets: encodings, title and totals rows, merged headers, row-by-row
validation with spreadsheet row numbers, all or nothing, idempotence, and both doors (CLI, web)."""

import csv
import io

import openpyxl
import pytest

from portal.importer import ImportFileError, Scope, import_file

from .conftest import CLOCK, ID_KEY, TODAY, han, login

W = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
HEADER = ["户主姓名", "身份证号", "家庭人口", "致贫原因", "得票数", "参评人数", "村民小组", "残疾", "独生子女", "纯女户"]


def valid_id(n: int) -> str:
    body = f"43089919700101{n:03d}"
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, W)) % 11]


def rows(n, start=0):
    return [[f"赵{'甲乙丙丁戊己庚辛壬癸'[i % 10]}{han(i, 2)}", valid_id(start + i), 1 + i % 4, "缺资金", 20 + i % 10, 32,
             "一组", "否", "否", "否"] for i in range(n)]


def write_csv(path, table, encoding="utf-8", title=None, total=None):
    buf = io.StringIO()
    w = csv.writer(buf)
    if title:
        w.writerow([title])
    w.writerow(HEADER)
    w.writerows(table)
    if total is not None:
        w.writerow(["合计", "", total])
    path.write_bytes(buf.getvalue().encode(encoding))
    return path


def scope(region="430811100001", campaign=1, actor="test"):
    return Scope(campaign, region, actor, "village_clerk", ID_KEY, CLOCK)


def household_count(db):
    return db["households"].count


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_csv_in_every_encoding_imports(db, county, tmp_path, encoding):
    table = rows(5)
    if encoding == "gb18030":
        table[0][0] = "王䶮"                         # a character GBK does not have
    path = write_csv(tmp_path / "a.csv", table, encoding, title="双星村申请户汇总表", total=sum(r[2] for r in table))
    before = household_count(db)
    report = import_file(db, path, kind="applicants", scope=scope())
    assert report.ok and report.written and report.added == 5, report.problems
    assert household_count(db) == before + 5
    names = {r["head_name"] for r in db.query("select head_name from households")}
    assert ("王䶮" if encoding == "gb18030" else "赵甲〇〇") in names


def test_full_width_digits_spaces_and_blank_rows(db, county, tmp_path):
    table = rows(3)
    table[0][2] = "３"
    table[1][0] = "赵乙〇一　 "                        # trailing full-width and ASCII spaces
    table.insert(2, [""] * 10)
    report = import_file(db, write_csv(tmp_path / "a.csv", table), kind="applicants", scope=scope())
    assert report.ok and report.added == 3
    row = next(db.query("select size from households where head_name = '赵甲〇〇'"))
    assert row["size"] == 3
    assert next(db.query("select count(*) as n from households where head_name = '赵乙〇一'"))["n"] == 1


def test_one_bad_id_in_row_37_imports_nothing_and_names_row_37(db, county, tmp_path):
    table = rows(40)
    table[34][1] = table[34][1][:-1] + ("0" if table[34][1][-1] != "0" else "1")   # title, header: table[34] is row 37
    path = write_csv(tmp_path / "a.csv", table, "gbk", title="标题")
    before = household_count(db)
    report = import_file(db, path, kind="applicants", scope=scope())
    assert not report.ok and not report.written
    assert [(p.row, p.column) for p in report.errors] == [(37, "B列（身份证号）")]
    assert "校验位不对" in report.errors[0].message
    assert household_count(db) == before and db["audit_log"].count == 0


@pytest.mark.parametrize("change, row, message", [
    ({1: "4.30899E+17"}, 2, "科学计数法"),
    ({2: "0"}, 2, "不能小于 1"),
    ({2: "两"}, 2, "应填整数"),
    ({4: "40"}, 2, "不能多于参评人数"),
    ({0: ""}, 2, "户主姓名不能为空"),
    ({3: "因懒"}, 2, "不是规定的致贫原因"),
    ({7: "也许"}, 2, "请填“是”或“否”"),
])
def test_row_rules(db, county, tmp_path, change, row, message):
    table = rows(2)
    for col, value in change.items():
        table[0][col] = value
    report = import_file(db, write_csv(tmp_path / "a.csv", table), kind="applicants", scope=scope())
    assert not report.ok and any(p.row == row and message in p.message for p in report.errors), report.problems
    assert household_count(db) == 8


def test_legacy_15_digit_id_is_accepted_and_flagged(db, county, tmp_path):
    table = rows(1)
    table[0][1] = "430811500101123"
    report = import_file(db, write_csv(tmp_path / "a.csv", table), kind="applicants", scope=scope())
    assert report.ok and report.added == 1
    assert any(p.level == "提示" and "15 位" in p.message for p in report.problems)


def test_same_id_twice_in_the_file_names_both_rows(db, county, tmp_path):
    table = rows(5)
    table[4][1] = table[1][1]
    report = import_file(db, write_csv(tmp_path / "a.csv", table), kind="applicants", scope=scope())
    assert not report.ok and report.errors[0].row == 6 and "与第 3 行" in report.errors[0].message


def test_id_already_in_another_village_is_refused_naming_it(db, county, tmp_path):
    import_file(db, write_csv(tmp_path / "a.csv", rows(2)), kind="applicants", scope=scope())
    report = import_file(db, write_csv(tmp_path / "b.csv", rows(1)), kind="applicants",
                         scope=scope(region="430811100002"))
    assert not report.ok and "双星村" in report.errors[0].message and "赵甲〇〇" in report.errors[0].message


def test_reimporting_the_same_file_changes_nothing(db, county, tmp_path):
    path = write_csv(tmp_path / "a.csv", rows(10))
    first = import_file(db, path, kind="applicants", scope=scope())
    again = import_file(db, path, kind="applicants", scope=scope())
    assert (first.added, again.added, again.updated, again.unchanged) == (10, 0, 0, 10)
    changed = rows(10)
    changed[3][4] = 29
    third = import_file(db, write_csv(tmp_path / "b.csv", changed), kind="applicants", scope=scope())
    assert (third.added, third.updated, third.unchanged) == (0, 1, 9)
    audit = list(db.query("select * from audit_log where action = 'import.applicants'"))
    assert len(audit) == 3 and '"added": 10' in audit[0]["after"]


def test_an_import_cannot_change_a_household_of_a_published_ranking(db, county, tmp_path):
    """Issue 16 item 5: once the village's list is out, its ranking is the record; an edited row is
    refused (new households still import: they are not in the published ranking)."""
    from portal.domain.publishing import publish_list

    import_file(db, write_csv(tmp_path / "a.csv", rows(3)), kind="applicants", scope=scope())
    publish_list(db, campaign_id=county["campaign"], region_code="430811100001", kind="identify", start=TODAY,
                 today=TODAY, key=ID_KEY, clock=CLOCK)
    changed = rows(4)
    changed[1][4] = 9                                        # 赵乙〇一's votes
    report = import_file(db, write_csv(tmp_path / "b.csv", changed), kind="applicants", scope=scope())
    assert not report.ok and not report.written
    assert [e.value for e in report.errors] == ["赵乙〇一"] and "票决排名" in report.errors[0].message
    assert import_file(db, write_csv(tmp_path / "c.csv", rows(4)), kind="applicants", scope=scope()).added == 1


def test_dry_run_writes_nothing(db, county, tmp_path):
    report = import_file(db, write_csv(tmp_path / "a.csv", rows(4)), kind="applicants", scope=scope(), dry_run=True)
    assert report.ok and report.added == 4 and not report.written
    assert household_count(db) == 8 and db["audit_log"].count == 0


def test_totals_row_is_checked(db, county, tmp_path):
    table = rows(4)
    report = import_file(db, write_csv(tmp_path / "a.csv", table, total=999), kind="applicants", scope=scope())
    assert not report.ok and report.errors[0].row == 6 and "合计行" in report.errors[0].message


def test_region_outside_the_jurisdiction_or_unknown(db, county, tmp_path):
    header = HEADER + ["村"]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerow(rows(1)[0] + ["河口村"])
    w.writerow(rows(1, 5)[0] + ["不存在村"])
    path = tmp_path / "a.csv"
    path.write_text(buf.getvalue())
    report = import_file(db, path, kind="applicants", scope=scope(region="430811100001"))
    messages = {p.row: p.message for p in report.errors}
    assert "不在您的管辖范围内" in messages[2] and "找不到这个村" in messages[3]


def test_proposed_selection_above_quota_is_refused(db, county, tmp_path):
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(HEADER + ["拟纳入"])
    for r in rows(4):
        w.writerow(r + ["是"])        # 1 + 2 + 3 + 4 = 10 persons: exactly the quota
    w.writerow(rows(1, 9)[0] + ["是"])
    path = tmp_path / "a.csv"
    path.write_text(buf.getvalue())
    report = import_file(db, path, kind="applicants", scope=scope())
    assert not report.ok and any("规模指标为 10 人" in p.message for p in report.errors)


def test_xlsx_with_title_merged_header_blank_rows_and_totals(db, county, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["双星村申请户（第二批）"])
    ws.merge_cells("A1:J1")
    ws.append(["户主姓名", "身份证号码", "家庭人口数", "致贫原因", "得票", "到会人数", "三优先", None, None])
    ws.append([None, None, None, None, None, None, "残疾", "独生子女", "纯女户"])
    for col in "ABCDEF":
        ws.merge_cells(f"{col}2:{col}3")
    ws.merge_cells("G2:I2")
    table = rows(3)
    for r in table:
        ws.append([r[0] + " ", r[1], float(r[2]), r[3], r[4], r[5], "√", None, "否"])
    ws.append([])
    ws.append(["合计", None, float(sum(r[2] for r in table))])
    path = tmp_path / "a.xlsx"
    wb.save(path)
    report = import_file(db, path, kind="applicants", scope=scope())
    assert report.ok and report.added == 3 and report.encoding == "xlsx", report.problems
    row = next(db.query("select * from households where head_name = '赵甲〇〇'"))
    assert row["disabled_member"] == 1 and row["all_daughters"] == 0


def test_xlsx_id_stored_as_a_number_is_refused(db, county, tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    r = rows(1)[0]
    ws.append([r[0], float(r[1]), r[2], r[3], r[4], r[5]])
    wb.save(tmp_path / "a.xlsx")
    report = import_file(db, tmp_path / "a.xlsx", kind="applicants", scope=scope())
    assert not report.ok and "设为“文本”格式" in report.errors[0].message


@pytest.mark.parametrize("content, message", [
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, "xls 文件已损坏"),        # old Excel, but damaged
    (b"PK\x03\x04" + b"\x00" * 600, "xlsx 文件已损坏"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + "EncryptedPackage".encode("utf-16-le") + b"\x00" * 600, "设了打开密码"),
    (b"\xef\xbb\xbf<html><body><table><tr><td>\xe6\x88\xb7\xe4\xb8\xbb</td></tr></table>", "网页"),
    (b"\x00\x01\x02binary" * 50, "不是表格"),
    ("随便写的一行字\n另一行\n".encode(), "找不到表头"),
    ("户主姓名,身份证号\n张三,1\n".encode(), "缺少必需的列"),
])
def test_files_that_cannot_be_read(db, county, tmp_path, content, message):
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFileError, match=message):
        import_file(db, path, kind="applicants", scope=scope())


def test_quotas_with_reserve_and_split_check(db, county, tmp_path):
    from portal.domain.regions import add_region
    add_region(db, "430811200", "协合乡", "430811")
    path = tmp_path / "q.csv"
    path.write_text("区划代码,名称,规模\n430811100,索溪峪镇,40\n,协合乡,30\n,预留机动名额,20\n,合计,90\n", encoding="utf-8")
    report = import_file(db, path, kind="quotas", scope=scope(region="430811", campaign=1))
    assert report.ok, report.problems
    assert next(db.query("select reserve from quotas where region_code = '430811'"))["reserve"] == 20
    over = tmp_path / "over.csv"
    over.write_text("区划代码,名称,规模\n430811100,索溪峪镇,40\n430811200,协合乡,61\n", encoding="utf-8")
    bad = import_file(db, over, kind="quotas", scope=scope(region="430811", campaign=1))
    assert not bad.ok and bad.errors[0].row == 3 and "超出" in bad.errors[0].message
    assert next(db.query("select persons from quotas where region_code = '430811200'"))["persons"] == 30


def test_regions_import(db, county, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("区划代码,区划名称,上级区划代码\n430811300,天子山镇,430811\n430811300001,泗南峪村,\n"
                    "430811300002,黄龙村,430811999\n", encoding="utf-8")
    report = import_file(db, path, kind="regions", scope=scope(region="430811", campaign=None))
    assert not report.ok and report.errors[0].row == 4 and "上级代码应为 430811300" in report.errors[0].message
    assert next(db.query("select count(*) as n from regions where code like '430811300%'"))["n"] == 0
    path.write_text("区划代码,区划名称\n430811300,天子山镇\n430811300001,泗南峪村\n", encoding="utf-8")
    assert import_file(db, path, kind="regions", scope=scope(region="430811", campaign=None)).added == 2


def test_cli_import_and_report(runner, db, county, tmp_path):
    table = rows(3)
    table[1][4] = 99
    path = write_csv(tmp_path / "a.csv", table)
    out = tmp_path / "report.csv"
    bad = runner.invoke(args=["import", str(path), "--kind", "applicants", "--campaign", "1",
                              "--region", "430811100001", "--report", str(out)])
    assert bad.exit_code == 1 and "第 3 行" in bad.output and "没有导入" in bad.output
    assert "得票数不能多于参评人数" in out.read_text(encoding="utf-8")
    good = runner.invoke(args=["import", str(write_csv(tmp_path / "b.csv", rows(3))), "--kind", "applicants",
                               "--campaign", "1", "--region", "430811100001"])
    assert good.exit_code == 0 and "已导入新增 3" in good.output
    missing = runner.invoke(args=["import", str(path), "--kind", "applicants"])
    assert missing.exit_code != 0 and "--campaign" in missing.output


def test_web_upload_preview_then_import(app, db, staff, tmp_path):
    client = app.test_client()
    login(client, "clerk")
    path = write_csv(tmp_path / "a.csv", rows(6), "gbk", title="标题", total=sum(r[2] for r in rows(6)))
    with open(path, "rb") as f:
        preview = client.post("/staff/r/430811100001/import", data={"kind": "applicants", "file": (f, "双星村.csv")},
                              content_type="multipart/form-data")
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "将导入新增 6" in page and "GBK" in page and "确认导入" in page
    before = db["households"].count
    token = page.split('name="token" value="')[1][:32]
    other = app.test_client()
    login(other, "admin")
    assert other.post("/staff/r/430811100001/import/confirm", data={"token": token}).status_code == 404
    done = client.post("/staff/r/430811100001/import/confirm", data={"token": token})
    assert done.status_code == 302 and db["households"].count == before + 6
    assert "已导入新增 6" in client.get(done.headers["Location"]).get_data(as_text=True)
    assert client.post("/staff/r/430811100001/import/confirm", data={"token": token}).status_code == 404


def test_web_upload_with_errors_offers_the_report_and_no_import(app, db, staff, tmp_path):
    client = app.test_client()
    login(client, "clerk")
    table = rows(3)
    table[2][1] = "12345"
    with open(write_csv(tmp_path / "a.csv", table), "rb") as f:
        resp = client.post("/staff/r/430811100001/import", data={"kind": "applicants", "file": (f, "a.csv")},
                           content_type="multipart/form-data")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "没有导入" in page and "确认导入" not in page
    link = next(part.split('"')[0] for part in page.split('href="/staff/r/430811100001/import/')[1:]
                if part.split('"')[0].endswith(".csv"))
    report = client.get(f"/staff/r/430811100001/import/{link}")
    assert report.mimetype == "text/csv" and "4,B列（身份证号）" in report.get_data(as_text=True)


def test_clerk_cannot_import_quotas(app, staff, tmp_path):
    client = app.test_client()
    login(client, "clerk")
    path = tmp_path / "q.csv"
    path.write_text("区划代码,规模\n430811100001,5\n")
    with open(path, "rb") as f:
        resp = client.post("/staff/r/430811100001/import", data={"kind": "quotas", "file": (f, "q.csv")},
                           content_type="multipart/form-data")
    assert resp.status_code == 400 and "确认导入" not in resp.get_data(as_text=True)


# --- The fast paths must give exactly what the plain ones give -----------------------------------


def _csv_module_rows(path, encoding):
    """The reference reader: the csv module, every cell folded (NFKC) and trimmed."""
    import unicodedata

    from portal.importer.reading import sniff_dialect

    with open(path, encoding=encoding, newline="") as f:
        return [[unicodedata.normalize("NFKC", c).strip() for c in r] for r in csv.reader(f, sniff_dialect(f))]


@pytest.mark.parametrize("text", [
    "乡镇,村,户主姓名\n乡00,村000,张三\n",
    "a,b\r\n１２,張 三 \r\n\r\n",                          # CRLF, full-width digits, a trailing space
    "a, b\n x ,y\u3000\n\n\nc,d\n",                      # spaces around cells, blank lines
    "a,b\n" + "x,y\n" * 150_000 + '"q,1",z\n"two\nlines",w\n',   # quotes only after the first chunk
    "a,b\n因病，缺资金,z\n",                                # a full-width comma inside a cell
    "a,b\rc,d\r",                                         # old Mac line ends
    "a\tb\n x\ty\n",
    "a;b;c\n1;2;3\n",
    "a,b\nx\u2003,\u00a0y\n",                            # Unicode spaces
])
@pytest.mark.parametrize("encoding", ["utf-8", "gb18030"])
def test_fast_csv_reader_gives_the_csv_modules_rows(tmp_path, text, encoding):
    from portal.importer.reading import _csv_rows

    path = tmp_path / "a.csv"
    path.write_bytes(text.encode(encoding))
    fast = list(_csv_rows(path, encoding))
    assert [r for r in fast if any(r)] == [r for r in _csv_module_rows(path, encoding) if any(r)]
    assert len(fast) == len(_csv_module_rows(path, encoding))          # row numbers stay the spreadsheet's


def test_character_tables_of_the_fast_reader_are_complete():
    import unicodedata

    from portal.importer.reading import NFKC_UNSAFE, SPACES

    every = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    assert set(SPACES) == {c for c in every if c.isspace() and c not in "\r\n"}
    assert set(NFKC_UNSAFE) == {c for c in every[0x80:] if any(s in unicodedata.normalize("NFKC", c) for s in ",;\t\"'\r\n")}


def _messy(n):
    """n rows where most blocks are clean and some rows need the row-by-row checks: hints,
    decimal or empty incomes, flags written Y, a group the village lacks, 15-digit IDs."""
    table = []
    for i in range(n):
        body = f"4308{i % 100:02d}19{50 + i % 40:02d}{1 + i % 12:02d}{1 + i % 28:02d}{i // 100 % 1000:03d}"
        row = [f"赵{'甲乙丙丁戊己庚辛壬癸'[i % 10]}{han(i)}", body + "10X98765432"[sum(int(c) * w for c, w in zip(body, W)) % 11],
               1 + i % 4, "缺资金" if i % 3 else "因病、缺技术", 20 + i % 10, 32, "一组" if i % 2 else "", "否", "√" if i % 7 == 0 else "否", "否"]
        if 300 <= i < 400:
            row[9] = {0: "Y", 1: "是", 2: ""}[i % 3]
        if i == 777:
            row[6] = "九组"
        if i in (900, 901):
            row[1] = f"4308111970{i:05d}"
        table.append(row)
    return table


def _state(db):
    return [tuple(r) for r in db.execute(
        "select h.id, village_code, group_code, head_name, size, causes, income_per_capita, disabled_member, "
        "single_child, all_daughters, applied_on, id_hash, id_masked, v.votes, v.voters_present "
        "from households h join votes v on v.household_id = h.id order by h.id")]


def test_block_path_writes_what_the_row_path_writes(app, county, tmp_path, monkeypatch):
    from portal.db import connect
    from portal.importer import applicants, shapes

    monkeypatch.setattr(shapes, "BATCH", 50)
    path = write_csv(tmp_path / "a.csv", _messy(1000), "gbk", title="标题")
    states, problems = [], []
    for fast in (True, False):
        if not fast:
            monkeypatch.setattr(applicants._ApplicantRows, "batch", None)
        db = connect(app.config["DATABASE"])
        db.execute("delete from votes where household_id in (select id from households where head_name like '赵%')")
        db.execute("delete from households where head_name like '赵%'")
        db.conn.commit()
        report = import_file(db, path, kind="applicants", scope=scope())
        assert report.ok and report.added == 1000, report.problems[:3]
        states.append(_state(db))
        problems.append([(p.row, p.column, p.message) for p in report.problems])
        db.close()
    assert states[0] == states[1] and problems[0] == problems[1]
    assert {p[0] for p in problems[0]} == {3 + 777, 3 + 900, 3 + 901}      # title and header rows first


def test_a_bad_cell_in_a_clean_block_is_reported_by_its_row(db, county, tmp_path, monkeypatch):
    from portal.importer import shapes

    monkeypatch.setattr(shapes, "BATCH", 50)
    table = _messy(400)
    table[234][2] = "-1"
    before = household_count(db)
    report = import_file(db, write_csv(tmp_path / "a.csv", table), kind="applicants", scope=scope())
    assert not report.ok and [p.row for p in report.errors] == [236]
    assert household_count(db) == before


@pytest.fixture
def parallel(monkeypatch):
    """Send even a small file through the checker process and the bulk load (indexes dropped and
    rebuilt, foreign keys off) that a large one gets."""
    from portal.importer import parallel

    monkeypatch.setattr(parallel, "PARALLEL_ROWS", 20)
    monkeypatch.setattr(parallel, "BULK_ROWS", 20)


def _indexes(db):
    return sorted(r[0] for r in db.execute("select sql from sqlite_master where type = 'index' and tbl_name = 'households'"))


def test_large_file_checked_in_a_second_process(db, county, tmp_path, parallel):
    indexes = _indexes(db)
    path = write_csv(tmp_path / "a.csv", _messy(1000), title="标题")
    report = import_file(db, path, kind="applicants", scope=scope())
    assert report.ok and report.written and report.added == 1000 and report.encoding == "UTF-8"
    assert sum(p.level == "提示" for p in report.problems) == 3
    assert _indexes(db) == indexes
    assert db.execute("pragma foreign_keys").fetchone()[0] == 1
    assert db.execute("pragma foreign_key_check").fetchall() == []
    assert db.execute("pragma integrity_check").fetchone()[0] == "ok"
    again = import_file(db, path, kind="applicants", scope=scope())
    assert (again.added, again.unchanged) == (0, 1000)


def test_second_process_error_writes_nothing(db, county, tmp_path, parallel):
    table = _messy(600)
    table[500][1] = table[10][1]
    before, indexes = household_count(db), _indexes(db)
    report = import_file(db, write_csv(tmp_path / "a.csv", table), kind="applicants", scope=scope())
    assert not report.ok and report.errors[0].row == 502 and "与第 12 行" in report.errors[0].message
    assert household_count(db) == before and _indexes(db) == indexes
    assert db["audit_log"].count == 0


def test_second_process_that_dies_rolls_everything_back(db, county, tmp_path, parallel, monkeypatch):
    import sys

    before, indexes = household_count(db), _indexes(db)
    monkeypatch.setattr(sys, "executable", "/bin/false")
    with pytest.raises(RuntimeError, match="ended without a result"):
        import_file(db, write_csv(tmp_path / "a.csv", _messy(600)), kind="applicants", scope=scope())
    assert household_count(db) == before and _indexes(db) == indexes
    assert db.execute("pragma foreign_keys").fetchone()[0] == 1 and not db.conn.in_transaction
    import gc

    assert gc.isenabled()


def test_second_process_dry_run_writes_nothing(db, county, tmp_path, parallel):
    before = household_count(db)
    report = import_file(db, write_csv(tmp_path / "a.csv", _messy(600)), kind="applicants", scope=scope(), dry_run=True)
    assert report.ok and not report.written and report.added == 600
    assert household_count(db) == before


def test_fast_csv_reader_hands_over_mid_file(tmp_path, monkeypatch):
    from portal.importer import reading

    monkeypatch.setattr(reading, "_CHUNK", 64)          # many chunks; quotes and a bare CR come late
    text = "a,b,c\n" + "".join(f"张{i}, {i} ,x\r\n" for i in range(200)) + '"q,1",z,"two\nlines"\n' + "k,l,m\rn,o,p\n"
    for encoding in ("utf-8", "gb18030"):
        path = tmp_path / f"{encoding}.csv"
        path.write_bytes(text.encode(encoding))
        assert list(reading._csv_rows(path, encoding)) == _csv_module_rows(path, encoding)


def test_over_long_cell_is_refused_with_a_message(db, county, tmp_path):
    table = rows(3)
    table[1][0] = "赵" * 200_000
    with pytest.raises(ImportFileError, match="CSV 文件格式有误"):
        import_file(db, write_csv(tmp_path / "a.csv", table), kind="applicants", scope=scope())
    assert household_count(db) == 8


def test_a_remarks_column_after_the_known_ones_is_ignored(db, county, tmp_path):
    head = ["户主姓名", "身份证号", "家庭人口", "得票数", "参评人数", "村", "备注"]
    body = [[f"赵{han(i)}", valid_id(i), 2, 20, 32, "双星村", "已核实"] for i in range(3)]
    path = tmp_path / "a.csv"
    path.write_text("\n".join(",".join(map(str, r)) for r in [head, *body]), encoding="utf-8")
    report = import_file(db, path, kind="applicants", scope=scope(region="430811"))
    assert report.ok and report.added == 3, report.problems
    path.write_text("\n".join(",".join(map(str, r[:5] + r[6:])) for r in [head[:5] + ["备注"]] + [
        [f"赵{han(i)}", valid_id(10 + i), 2, 20, 32, "", "已核实"] for i in range(3)]), encoding="utf-8")
    report = import_file(db, path, kind="applicants", scope=scope())        # a village page: no 村 column
    assert report.ok and report.added == 3, report.problems
    assert {r["village_code"] for r in db.query("select village_code from households where head_name like '赵%'")} == {"430811100001"}


@pytest.mark.parametrize("col, value, message", [
    (2, "00", "不能小于 1"),
    (5, "00", "不能小于 1"),
])
def test_zeros_written_twice_are_still_zero(db, county, tmp_path, col, value, message):
    table = rows(2)
    table[1][col] = value
    report = import_file(db, write_csv(tmp_path / "a.csv", table), kind="applicants", scope=scope())
    assert not report.ok and [(p.row, message in p.message) for p in report.errors] == [(3, True)]


def test_income_must_be_a_finite_number(db, county, tmp_path):
    head = HEADER + ["人均纯收入"]
    for bad in ("9" * 400, "nan", "-5"):
        table = [r + ["1000"] for r in rows(2)]
        table[0][-1] = bad
        path = tmp_path / "a.csv"
        path.write_text("\n".join(",".join(map(str, r)) for r in [head, *table]), encoding="utf-8")
        report = import_file(db, path, kind="applicants", scope=scope())
        assert not report.ok and report.errors[0].row == 2 and "人均纯收入" in report.errors[0].message, bad


def test_web_upload_of_a_large_file_goes_through_the_checker_process(app, db, staff, tmp_path, parallel):
    client = app.test_client()
    login(client, "clerk")
    table = _messy(1000)
    path = write_csv(tmp_path / "a.csv", table, "gbk", title="标题", total=sum(r[2] for r in table))
    with open(path, "rb") as f:
        preview = client.post("/staff/r/430811100001/import", data={"kind": "applicants", "file": (f, "双星村.csv")},
                              content_type="multipart/form-data")
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "将导入新增 1000" in page and "GBK" in page
    before = db["households"].count
    token = page.split('name="token" value="')[1][:32]
    done = client.post("/staff/r/430811100001/import/confirm", data={"token": token})
    assert done.status_code == 302 and db["households"].count == before + 1000
    assert db.execute("pragma foreign_key_check").fetchall() == []
