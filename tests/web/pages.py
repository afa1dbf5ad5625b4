"""Read rendered pages the way a person does: visible text, fields, errors, by element id or class."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_HIDDEN = {"script", "style", "template", "head"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        """Visible text, whitespace collapsed (like innerText, roughly)."""
        parts: list[str] = []
        self._collect(parts)
        return re.sub(r"\s+", " ", "".join(parts)).strip()

    def _collect(self, parts: list[str]) -> None:
        for child in self.children:
            if isinstance(child, str):
                parts.append(child)
            elif child.tag not in _HIDDEN:
                if child.tag in ("br", "p", "li", "div", "tr", "td", "th", "dt", "dd", "h1", "h2", "h3"):
                    parts.append(" ")
                child._collect(parts)

    def iter(self) -> list[Element]:
        out: list[Element] = []
        for child in self.children:
            if isinstance(child, Element):
                out.append(child)
                out.extend(child.iter())
        return out

    def find_all(self, tag: str | None = None, *, cls: str | None = None, **attrs: str) -> list[Element]:
        return [
            e for e in self.iter()
            if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)
            and all(e.attrs.get(k.rstrip("_")) == v for k, v in attrs.items())
        ]

    def find(self, tag: str | None = None, *, cls: str | None = None, **attrs: str) -> Element:
        found = self.find_all(tag, cls=cls, **attrs)
        if not found:
            raise AssertionError(f"no <{tag or '*'}> with class={cls} {attrs} on the page")
        return found[0]

    def by_id(self, element_id: str) -> Element:
        return self.find(id=element_id)


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#document", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in _VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(html: str) -> Element:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def field_error(page: Element, key: str) -> str:
    """The message shown next to a form field (``victim.name``, ``transfers.0.to_bank``...)."""
    found = page.find_all("p", cls="field-error", id="err-" + key.replace(".", "-"))
    return found[0].text() if found else ""


def value_of(page: Element, name: str) -> str:
    """What a named input, textarea or select shows (the first with that name)."""
    for element in page.iter():
        if element.attrs.get("name") != name:
            continue
        if element.tag == "textarea":
            return "".join(c for c in element.children if isinstance(c, str))
        if element.tag == "select":
            chosen = [o for o in element.find_all("option") if "selected" in o.attrs]
            return chosen[0].attrs.get("value", "") if chosen else ""
        return element.attrs.get("value", "")
    raise AssertionError(f"no field named {name!r}")
