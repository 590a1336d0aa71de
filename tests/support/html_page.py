"""Parse a rendered report: its tags, attributes and text; unbalanced structural tags are an error."""

from __future__ import annotations

from html.parser import HTMLParser


class Collect(HTMLParser):
    """Tags, attributes and text of a page; an unbalanced structural tag is an error."""

    STRUCTURAL = ("html", "body", "table", "section", "details", "svg", "figure", "pre", "tr", "ul")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.depth: dict[str, int] = {t: 0 for t in self.STRUCTURAL}
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in self.depth:
            self.depth[tag] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.depth:
            self.depth[tag] -= 1
            assert self.depth[tag] >= 0, f"</{tag}> without <{tag}>"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> Collect:
    p = Collect()
    p.feed(html)
    p.close()
    assert all(v == 0 for v in p.depth.values()), p.depth
    return p
