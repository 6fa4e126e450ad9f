"""Uploaded files kept as evidence (board photos, complaint attachments): sniffed by content,
size-limited, images re-encoded so that EXIF and GPS data never survive, stored outside static/."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from ..db import write_transaction
from . import audit

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000       # a 12000×12000 PNG of 500 KB would take gigabytes to decode
KINDS = {b"\xff\xd8\xff": ("image/jpeg", "jpg"), b"\x89PNG\r\n\x1a\n": ("image/png", "png"), b"%PDF-": ("application/pdf", "pdf")}


class EvidenceError(ValueError):
    """A file that cannot be kept; the message is for the user, in Chinese."""


def read_upload(stream, *, allow_pdf: bool = True) -> tuple[bytes, str, str]:
    """Read an uploaded file (``stream``: any binary file object, such as an upload's stream; at
    most MAX_BYTES), check what it really is, and clean images and PDFs.

    Returns (data, content type, extension). The name the browser sent is never trusted.
    """
    data = stream.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise EvidenceError("文件超过 10 MB，请压缩后再上传。")
    if not data:
        raise EvidenceError("文件是空的。")
    kind = next((v for magic, v in KINDS.items() if data.startswith(magic)), None)
    if kind is None or (kind[1] == "pdf" and not allow_pdf):
        raise EvidenceError("只能上传 JPEG、PNG 照片" + ("或 PDF 文件" if allow_pdf else "") + "（按文件内容判断，不看扩展名）。")
    content_type, ext = kind
    data = clean_pdf(data) if ext == "pdf" else reencode(data, ext)
    return data, content_type, ext


#: Names that make a PDF do something when opened or clicked, or carry other files inside
#: (issue 17, item 7): scripts, launch and submit actions, embedded or attached files, rich media, forms.
ACTIVE_PDF_KEYS = {"/JS", "/JavaScript", "/Launch", "/EmbeddedFile", "/EmbeddedFiles", "/FileAttachment",
                   "/RichMedia", "/XFA", "/SubmitForm", "/ImportData", "/GoToE", "/GoToR", "/URI"}


def _active(pdf, pikepdf) -> bool:
    """Whether any dictionary reachable from the trailer — direct or indirect, every object of every
    stored object too — names an active feature."""
    stack, seen = [pdf.trailer, *pdf.objects], set()
    while stack:
        obj = stack.pop()
        if not isinstance(obj, (pikepdf.Dictionary, pikepdf.Array, pikepdf.Stream)):
            continue                        # numbers, strings, names: nothing inside
        if obj.is_indirect:
            if obj.objgen in seen:
                continue
            seen.add(obj.objgen)
        if isinstance(obj, pikepdf.Stream):
            obj = obj.stream_dict
        if isinstance(obj, pikepdf.Dictionary):
            names = set(obj.keys()) | {str(obj.get(k)) for k in ("/S", "/Subtype", "/Type") if k in obj}
            if names & ACTIVE_PDF_KEYS:
                return True
            stack.extend(obj[k] for k in obj)
        elif isinstance(obj, pikepdf.Array):
            stack.extend(obj)
    return False


def clean_pdf(data: bytes) -> bytes:
    """Open a PDF with pikepdf (QPDF), refuse one that is damaged, locked, has no pages or holds
    anything active, and write it out again: what is stored is what QPDF parsed, without bytes
    appended after the document or objects it does not reference."""
    import pikepdf

    try:
        with pikepdf.open(io.BytesIO(data)) as pdf:
            if not len(pdf.pages):
                raise EvidenceError("这不是真正的 PDF 文件（没有页面）。")
            if _active(pdf, pikepdf):
                raise EvidenceError("PDF 文件里带有脚本、动作、链接或附件，不能上传。请把它打印成新的 PDF，"
                                    "或拍照上传。")
            out = io.BytesIO()
            pdf.save(out, linearize=False, object_stream_mode=pikepdf.ObjectStreamMode.preserve,
                     fix_metadata_version=False, deterministic_id=True)
    except EvidenceError:
        raise
    except pikepdf.PasswordError as error:
        raise EvidenceError("PDF 文件设了密码，请去掉密码后再上传。") from error
    except (pikepdf.PdfError, ValueError, RuntimeError) as error:
        raise EvidenceError("PDF 文件已损坏，打不开。") from error
    return out.getvalue()


def reencode(data: bytes, ext: str) -> bytes:
    """Decode and re-encode an image: proves it is one, turns it upright, drops EXIF/GPS and anything
    appended after the image data."""
    import warnings

    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                if image.size[0] * image.size[1] > MAX_PIXELS:
                    raise EvidenceError("照片像素太大，请缩小后再上传。")
                image.verify()
            with Image.open(io.BytesIO(data)) as image:
                image = ImageOps.exif_transpose(image)
                image.info.clear()          # no EXIF, GPS, comments or ICC text carried over
                out = io.BytesIO()
                if ext == "jpg":
                    image.convert("RGB").save(out, "JPEG", quality=88)
                else:
                    image.save(out, "PNG")
    except EvidenceError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError) as error:
        raise EvidenceError("照片文件已损坏或不是真正的图片。") from error
    return out.getvalue()


def store(folder: Path, prefix: str, data: bytes, ext: str) -> tuple[str, str]:
    """Write the file atomically under its content hash; returns (stored name, sha256)."""
    digest = hashlib.sha256(data).hexdigest()
    name = f"{prefix}-{digest[:32]}.{ext}"
    path = folder / name
    if not path.exists():
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return name, digest


def add_board_photo(db, list_id: int, data: bytes, content_type: str, ext: str, *, folder: Path, actor: str,
                    role: str, key: bytes, clock) -> int | None:
    """Keep the photo of a posted board (张榜留存, already cleaned by ``evidence.read_upload``) in
    ``folder`` and against the list's current version, once; returns its id, or None when the same
    photo is already kept."""
    stored, digest = store(folder, str(list_id), data, ext)
    size = len(data)
    with write_transaction(db):
        if next(db.query("select 1 from board_photos where stored_name = ?", [stored]), None):
            return None
        lst = next(db.query("select region_code, current_version from lists where id = ?", [list_id]))
        photo_id = db["board_photos"].insert({
            "list_id": list_id, "version": lst["current_version"], "stored_name": stored,
            "content_type": content_type, "size": size, "sha256": digest, "uploaded_by": actor,
            "uploaded_at": clock.stamp(),
        }).last_pk
        audit.record(db, actor=actor, role=role, action="list.photo", object_type="list", object_id=list_id,
                     region_code=lst["region_code"], after={"photo_id": photo_id, "sha256": digest, "size": size},
                     key=key, clock=clock)
        return photo_id
