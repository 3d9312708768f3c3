"""A Markdown subset to a static HTML page, no web framework: the subset the report
writes (headings, paragraphs, lists, pipe tables, images, links, `code`, **bold**,
_italic_)."""

from __future__ import annotations

import html
import re

STYLE = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}table{border-collapse:collapse;margin:1em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#f3f3f3}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}code{background:#f3f3f3;padding:0 .2em}"""

_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)"), lambda m: f'<img alt="{m[1]}" src="{m[2]}">'),
    (re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)"), lambda m: f'<a href="{m[2]}">{m[1]}</a>'),
    (re.compile(r"\*\*(.+?)\*\*"), lambda m: f"<strong>{m[1]}</strong>"),
    (re.compile(r"(?:(?<=\s)|^)_(.+?)_(?=\s|$|[.,;:)])"), lambda m: f"<em>{m[1]}</em>"),
]
_CODE = re.compile(r"`([^`]+)`")


def inline(text: str) -> str:
    """Escape, then render code spans (verbatim), images, links, bold and italic."""
    parts = _CODE.split(text)
    out = []
    for i, part in enumerate(parts):
        if i % 2:  # inside backticks: no further markup
            out.append(f"<code>{html.escape(part)}</code>")
            continue
        part = html.escape(part, quote=False)
        for pattern, repl in _INLINE:
            part = pattern.sub(repl, part)
        out.append(part)
    return "".join(out)


def slug(text: str) -> str:
    """GitHub-style anchor: lower case, punctuation dropped, spaces to dashes."""
    return re.sub(r"[^\w\- ]", "", text.lower()).strip().replace(" ", "-")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _table(lines: list[str]) -> str:
    head, body = _cells(lines[0]), lines[2:]
    rows = ["<tr>" + "".join(f"<th>{inline(c)}</th>" for c in head) + "</tr>"]
    rows += ["<tr>" + "".join(f"<td>{inline(c)}</td>" for c in _cells(line)) + "</tr>" for line in body]
    return "<table>\n" + "\n".join(rows) + "\n</table>"


def _blocks(text: str) -> list[list[str]]:
    """Group lines into blocks separated by blank lines (a heading is its own block)."""
    blocks, current = [], []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            if current:
                blocks.append(current)
            current = []
            if line.startswith("#"):
                blocks.append([line])
            continue
        current.append(line)
    if current:
        blocks.append(current)
    return blocks


def _block(lines: list[str]) -> str:
    first = lines[0]
    if first.startswith("#"):
        level = len(first) - len(first.lstrip("#"))
        title = first[level:].strip()
        return f'<h{level} id="{slug(re.sub(r"[`*]", "", title))}">{inline(title)}</h{level}>'
    if first.startswith("|") and len(lines) > 1 and set(lines[1].replace("|", "").strip()) <= set("-: "):
        return _table(lines)
    if all(line.startswith("- ") for line in lines):
        return "<ul>\n" + "\n".join(f"<li>{inline(line[2:])}</li>" for line in lines) + "\n</ul>"
    return "<p>" + "<br>\n".join(inline(line) for line in lines) + "</p>"


def to_html(markdown: str, title: str = "report") -> str:
    """A complete standalone HTML page for `markdown`."""
    body = "\n".join(_block(b) for b in _blocks(markdown))
    return (f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")
