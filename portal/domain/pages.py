"""The guide pages (markdown files with ``---`` front matter in ``content/``) and markdown rendering,
sanitised with nh3 — content pages and staff-written notices alike."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import markdown
import nh3


@dataclasses.dataclass(frozen=True)
class Page:
    slug: str
    title: str
    date: str
    summary: str
    body: str            # sanitised HTML


def parse_front_matter(text: str) -> tuple[dict, str]:
    """``---``-fenced ``key: value`` lines at the top of a page, and the markdown after them."""
    if not text.startswith("---\n"):
        return {}, text
    head, sep, body = text[4:].partition("\n---\n")
    if not sep:
        return {}, text
    meta = {}
    for line in head.splitlines():
        key, colon, value = line.partition(":")
        if colon:
            meta[key.strip()] = value.strip()
    return meta, body


def render_markdown(text: str) -> str:
    """Markdown to HTML, sanitised with nh3: content pages today, staff-written notices later."""
    clean = nh3.clean(markdown.markdown(text, extensions=["tables"]),
                      tags=nh3.ALLOWED_TAGS | {"table", "thead", "tbody", "tr", "th", "td"})
    # A wide table scrolls inside its own box on a phone, not the whole page (added after cleaning:
    # the wrapper is ours, the text inside it is sanitised).
    return clean.replace("<table>", TABLE_WRAP + "<table>").replace("</table>", "</table></div>")


TABLE_WRAP = '<div class="table-wrap" tabindex="0" role="region" aria-label="表格（可左右滑动）">'


def load_page(folder: Path, slug: str) -> Page | None:
    """A markdown page from ``content/`` with its front matter (title, date, summary)."""
    if not slug.replace("-", "").isalnum() or not slug.isascii():
        return None
    path = folder / f"{slug}.md"
    if not path.is_file():
        return None
    meta, body = parse_front_matter(path.read_text(encoding="utf-8"))
    return Page(slug, meta.get("title", slug), meta.get("date", ""), meta.get("summary", ""), render_markdown(body))


def list_pages(folder: Path) -> list[dict]:
    """Slug, title and summary of every content page (front matter only: no bodies rendered)."""
    pages = []
    for path in sorted(folder.glob("*.md")):
        meta, _ = parse_front_matter(path.read_text(encoding="utf-8"))
        pages.append({"slug": path.stem, "title": meta.get("title", path.stem), "summary": meta.get("summary", "")})
    return pages
