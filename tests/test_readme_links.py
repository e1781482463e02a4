"""Every link of the README and docs/ resolves: the file exists, the anchor is a heading there.

The pages link to each other as files (``[Speed](speed.md#load)``, ``docs/check.md`` from the
README), so the links work in a checkout; the site re-points them (docs/hooks.py), and
``mkdocs build --strict`` checks them there too (tests/test_docs_site.py).

A broken ``#memberships-and-packages`` link sent a newcomer nowhere (issue 26). Anchors
are GitHub's: the heading in lower case, punctuation dropped, spaces as ``-``, a repeated
heading suffixed ``-1``, ``-2``. Links inside fenced blocks and code spans are examples,
not links. Outside links are allowed only to package registries the text names.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .conftest import ROOT

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)\)")
OUTSIDE = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
ALLOWED_OUTSIDE = ("https://pypi.org/project/",)


def prose(text: str) -> str:
    """The text without fenced blocks and code spans (examples, not links)."""
    text = re.sub(r"^```.*?^```[ \t]*$", "", text, flags=re.M | re.S)
    return re.sub(r"`[^`\n]*`", "", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"<[^>]+>", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out: set[str] = set()
    text = re.sub(r"^```.*?^```[ \t]*$", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)
    for match in re.finditer(r"^#{1,6}\s+(.+?)\s*#*\s*$", text, re.M):
        base = slug(match.group(1))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    out |= set(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", text))
    return out


def test_the_slug_is_githubs() -> None:
    assert slug("Classes: `Class.Schedule.*` and `Class.Booking.*`") == "classes-classschedule-and-classbooking"
    assert slug("Scenarios: a guest's day, in order") == "scenarios-a-guests-day-in-order"
    assert anchors(ROOT / "docs" / "world.md") >= {"classes", "countries-guests-and-invoices"}


def test_a_repeated_heading_gets_githubs_suffix(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Speed\n\n## Speed\n\n```sh\n# Speed\n```\n", encoding="utf-8")
    assert anchors(page) == {"speed", "speed-1"}  # a comment in a fenced block is no heading


@pytest.mark.parametrize("document", DOCUMENTS, ids=[str(d.relative_to(ROOT)) for d in DOCUMENTS])
def test_every_link_and_anchor_resolves(document: Path) -> None:
    broken = []
    links = list(LINK.finditer(prose(document.read_text(encoding="utf-8"))))
    for match in links:
        target = match.group("target")
        if OUTSIDE.match(target):
            if not target.startswith(ALLOWED_OUTSIDE):
                broken.append(f"{target}: the docs link only to files of the project")
            continue
        path, _, anchor = target.partition("#")
        file = (document.parent / path).resolve() if path else document
        if not file.exists():
            broken.append(f"{target}: no file {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading in {file.name} has the anchor #{anchor}")
    assert links or document.name != "README.md", "no link found: the pattern is broken"
    assert broken == [], f"{document.name}: " + "; ".join(broken)


def test_one_example_path_everywhere() -> None:
    """The README's receiver answers on /hook: every example URL uses that path, so what a
    reader copies from one section works with the receiver of another."""
    places = [
        *DOCUMENTS,
        ROOT / "emulator" / "web" / "templates" / "index.html",
        *sorted((ROOT / "emulator" / "cli").glob("*.py")),
    ]
    other = re.compile(r"https?://[\w.:\[\]*@-]+(/(?:hooks?/zenoti|webhooks?/zenoti|zenoti|webhooks?))\b(?![/.-])")
    found = [
        f"{p.relative_to(ROOT)}: {m.group(0)}" for p in places for m in other.finditer(p.read_text(encoding="utf-8"))
    ]
    assert found == [], "example URLs use another path than /hook:\n" + "\n".join(found)
