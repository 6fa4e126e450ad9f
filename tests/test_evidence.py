"""PDF evidence is parsed, refused when active, rewritten; every evidence file is served as a
download with its sniffed type (issue 17, item 7)."""

import io
import re

import pikepdf
import pytest
from werkzeug.datastructures import FileStorage

from portal.domain.evidence import EvidenceError, read_upload

from .conftest import login


def _pdf(change=None, **save) -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    if change:
        change(pdf)
    out = io.BytesIO()
    pdf.save(out, **save)
    return out.getvalue()


ACTIVE = {
    "javascript": lambda pdf: setattr(pdf.Root, "OpenAction", pdf.make_indirect(
        pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=pikepdf.String("app.alert(1)")))),
    "names-javascript": lambda pdf: setattr(pdf.Root, "Names", pikepdf.Dictionary(
        JavaScript=pikepdf.Dictionary(Names=pikepdf.Array([pikepdf.String("a"), pikepdf.Dictionary(
            S=pikepdf.Name.JavaScript, JS=pikepdf.String("x"))])))),
    "launch": lambda pdf: setattr(pdf.Root, "OpenAction", pikepdf.Dictionary(S=pikepdf.Name.Launch,
                                                                             F=pikepdf.String("cmd.exe"))),
    "embedded file": lambda pdf: pdf.attachments.__setitem__("a.exe", pikepdf.AttachedFileSpec(pdf, b"MZ")),
    "page action": lambda pdf: setattr(pdf.pages[0].obj, "AA", pikepdf.Dictionary(O=pikepdf.Dictionary(
        S=pikepdf.Name.JavaScript, JS=pikepdf.String("x")))),
}


def upload(data: bytes):
    return read_upload(FileStorage(io.BytesIO(data), filename="x.pdf"))


def test_a_plain_pdf_is_kept_rewritten(app):
    data = _pdf() + b"\n<html><script>alert(1)</script></html>"      # bytes after %%EOF
    with app.app_context():
        kept, content_type, ext = upload(data)
    assert content_type == "application/pdf" and ext == "pdf" and b"<script>" not in kept
    with pikepdf.open(io.BytesIO(kept)) as pdf:
        assert len(pdf.pages) == 1


@pytest.mark.parametrize("kind", sorted(ACTIVE))
def test_an_active_pdf_is_refused(app, kind):
    with app.app_context(), pytest.raises(EvidenceError, match="脚本、动作、链接或附件"):
        upload(_pdf(ACTIVE[kind]))


@pytest.mark.parametrize("data, says", [
    (b"%PDF-1.4\n<html><body><script>alert(1)</script></body></html>\n", "已损坏|没有页面"),
    (_pdf(encryption=pikepdf.Encryption(owner="o", user="u")), "设了密码"),
    (b"%PDF-1.7\n" + b"\0" * 200, "已损坏|没有页面"),
])
def test_a_fake_damaged_or_locked_pdf_is_refused(app, data, says):
    with app.app_context(), pytest.raises(EvidenceError, match=says):
        upload(data)


def test_evidence_and_board_photos_are_downloads_with_their_sniffed_type(app, db, staff):
    from .test_complaints import file_report, receipt  # noqa: F401

    app.config["WTF_CSRF_ENABLED"] = False
    citizen = app.test_client()
    resp = file_report(citizen, staff["village_a"], entry=1, files=[(io.BytesIO(_pdf()), "证据.pdf")])
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    complaint, handler = next(db.query("select id, handler_region from complaints order by id desc limit 1"),
                              {}).values()
    file_id = next(db.query("select id from complaint_files where complaint_id = ?", [complaint]))["id"]
    clerk = app.test_client()
    login(clerk, {"430811100001": "clerk", "430811100": "reviewer"}[handler])     # the handling unit
    got = clerk.get(f"/staff/complaints/{complaint}/files/{file_id}")
    assert got.status_code == 200 and got.mimetype == "application/pdf"
    assert got.headers["Content-Disposition"].startswith("attachment;")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    refused = file_report(citizen, staff["village_a"], entry=1,
                          files=[(io.BytesIO(_pdf(ACTIVE["javascript"])), "a.pdf")])
    assert re.search("脚本、动作、链接或附件", refused.get_data(as_text=True))
