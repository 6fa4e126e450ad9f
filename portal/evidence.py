"""Uploaded files kept as evidence (board photos, complaint attachments): sniffed by content,
size-limited, images re-encoded so that EXIF and GPS data never survive, stored outside static/."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from flask import current_app

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000       # a 12000×12000 PNG of 500 KB would take gigabytes to decode
KINDS = {b"\xff\xd8\xff": ("image/jpeg", "jpg"), b"\x89PNG\r\n\x1a\n": ("image/png", "png"), b"%PDF-": ("application/pdf", "pdf")}


class EvidenceError(ValueError):
    """A file that cannot be kept; the message is for the user, in Chinese."""


def read_upload(storage, *, allow_pdf: bool = True) -> tuple[bytes, str, str]:
    """Read an uploaded file (at most MAX_BYTES), check what it really is, and clean images.

    Returns (data, content type, extension). The name the browser sent is never trusted.
    """
    data = storage.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise EvidenceError("文件超过 10 MB，请压缩后再上传。")
    if not data:
        raise EvidenceError("文件是空的。")
    kind = next((v for magic, v in KINDS.items() if data.startswith(magic)), None)
    if kind is None or (kind[1] == "pdf" and not allow_pdf):
        raise EvidenceError("只能上传 JPEG、PNG 照片" + ("或 PDF 文件" if allow_pdf else "") + "（按文件内容判断，不看扩展名）。")
    content_type, ext = kind
    if ext != "pdf":
        data = reencode(data, ext)
    return data, content_type, ext


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


def folder(name: str) -> Path:
    path = Path(current_app.config["EVIDENCE_DIR"]) / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def store(subfolder: str, prefix: str, data: bytes, ext: str) -> tuple[str, str]:
    """Write the file atomically under its content hash; returns (stored name, sha256)."""
    digest = hashlib.sha256(data).hexdigest()
    name = f"{prefix}-{digest[:32]}.{ext}"
    path = folder(subfolder) / name
    if not path.exists():
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)
    return name, digest
