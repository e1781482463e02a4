"""MkDocs hooks: the README is the site's home page, and links to project files read as paths.

The README and the pages of docs/ are written to read on their own, in a checkout: the
README links to ``docs/generate.md``, a page to ``../emulator/world/habits.py``. The site
holds only docs/, so here the README becomes ``index.md`` with its links re-pointed at the
pages, and a link to a file of the project outside docs/ (which the site cannot serve, and
which tests/test_readme_links.py proves exists) shows as its text. A link to a file that
does not exist is left as it is, so that ``mkdocs build --strict`` fails on it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
README = ROOT / "README.md"
LINK = re.compile(r"(?<!!)\[(?P<text>[^\]]*)\]\((?P<target>[^)\s]+)\)")
FENCED = re.compile(r"(^```.*?^```[ \t]*$)", re.M | re.S)
OUTSIDE = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def on_files(files: Files, config: MkDocsConfig, **_: Any) -> Files:
    """The README, as the site's home page."""
    files.append(File.generated(config, "index.md", abs_src_path=str(README)))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files, **_: Any) -> str:
    """Links as written for a checkout, re-pointed for the site."""
    source = README if page.file.src_uri == "index.md" else DOCS / page.file.src_uri
    site_dir = (DOCS / page.file.src_uri).parent

    def repoint(match: re.Match[str]) -> str:
        text, target = match.group("text"), match.group("target")
        if target.startswith("#") or OUTSIDE.match(target):
            return match.group(0)
        path, hash_, anchor = target.partition("#")
        file = (source.parent / path).resolve()
        if file == README:
            file = DOCS / "index.md"
        elif file.is_relative_to(DOCS) and file.is_file():
            pass
        elif file.exists() and file.is_relative_to(ROOT):
            return text  # a project file (or folder) the site does not hold: its name
        else:
            return match.group(0)  # missing: left for mkdocs --strict to report
        return f"[{text}]({Path(os.path.relpath(file, site_dir)).as_posix()}{hash_}{anchor})"

    parts = FENCED.split(markdown)
    return "".join(part if part.startswith("```") else LINK.sub(repoint, part) for part in parts)
