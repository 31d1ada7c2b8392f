"""Derive safe plain text from an HTML mail body (sans-I/O).

The HTML is only *read* by the standard library's tokenizer; nothing is executed or
fetched. Script, style and other non-content elements are dropped with their content, so
a ``<script>`` payload never appears in the derived text, and entity-encoded markup ends up
as literal characters that a console must (and will) escape like any other text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements whose content is never shown to a reader (or is active content).
_DROP_CONTENT = frozenset(
    {
        "script",
        "style",
        "head",
        "title",
        "template",
        "noscript",
        "iframe",
        "object",
        "embed",
        "svg",
        "math",
        "applet",
        "frameset",
        "select",
        "textarea",
    }
)
_VOID = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "param",
        "source",
        "track",
        "wbr",
    }
)
_BLOCK = frozenset(
    {
        "p",
        "div",
        "section",
        "article",
        "header",
        "footer",
        "blockquote",
        "pre",
        "table",
        "tr",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "address",
        "form",
        "fieldset",
        "dl",
        "dt",
        "dd",
        "figure",
        "main",
        "nav",
        "aside",
        "center",
    }
)
_SAFE_LINK = re.compile(r"^(https?:|mailto:)", re.IGNORECASE)
# C0/C1 controls except tab and newline: never useful in text, sometimes hostile.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._drop_depth = 0
        self._drop_stack: list[str] = []
        self._href_stack: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _DROP_CONTENT:
            if tag not in _VOID:
                self._drop_stack.append(tag)
            return
        if self._drop_stack:
            return
        if tag == "br":
            self.out.append("\n")
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in ("td", "th"):
            self.out.append("\t")
        elif tag in _BLOCK or tag == "hr":
            self.out.append("\n\n")
        elif tag == "a":
            href = dict(attrs).get("href")
            self._href_stack.append(href if href and _SAFE_LINK.match(href.strip()) else None)
        elif tag == "img":
            alt = dict(attrs).get("alt")
            if alt:
                self.out.append(f"[{alt}]")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/>, <img/>: the same as a start tag, but never opens a dropped region.
        if tag in _DROP_CONTENT:
            return
        self.handle_starttag(tag, attrs)
        if tag == "a":
            self._href_stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if self._drop_stack:
            if tag in self._drop_stack:
                # Close up to the matching element (tolerates unclosed children).
                while self._drop_stack and self._drop_stack.pop() != tag:
                    pass
            return
        if tag in _BLOCK:
            self.out.append("\n\n")
        elif tag == "a" and self._href_stack:
            href = self._href_stack.pop()
            if href:
                self.out.append(f" <{href.strip()}>")

    def handle_data(self, data: str) -> None:
        if not self._drop_stack:
            self.out.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML document with active content removed."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except (AssertionError, ValueError):  # pragma: no cover - tokenizer is lenient
        pass
    text = "".join(parser.out)
    text = _CONTROL.sub("", text)
    lines = [
        " ".join(line.split()) if "\t" not in line else line.strip()
        for line in text.replace("\r", "").split("\n")
    ]
    cleaned = "\n".join(lines)
    cleaned = re.sub(r"\n{3,}", "\n\n", cleaned)
    return cleaned.strip()


def clean_text(text: str) -> str:
    """Plain text with control and bidi-override characters removed (they can disguise
    content in a console) and line endings normalised."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
