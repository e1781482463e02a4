"""The manual builds as a site: `mkdocs build --strict`, offline, with nothing from outside.

`make docs` serves README.md and docs/ with MkDocs and the Material theme (mkdocs.yml).
Strict mode turns every warning into a failure: a link to a page or an anchor that does not
exist, a page the nav leaves out. The site must not fetch anything, at build time or when a
reader opens it: no web fonts, no analytics, no script or style from a CDN. Links to
outside hosts are allowed only where the text links a package registry, as
tests/test_readme_links.py allows them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT
from .test_readme_links import ALLOWED_OUTSIDE

#: a closed loopback port as every proxy: a build that tried to download would fail
OFFLINE = {
    "http_proxy": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "HTTPS_PROXY": "http://127.0.0.1:9",
    "NO_MKDOCS_2_WARNING": "1",
}
#: an attribute or a CSS url() pointing at another host
REFERENCE = re.compile(
    r"""(?:\b(?:src|href|srcset|action|poster|data)\s*=\s*["']?|url\(\s*["']?|@import\s+["'])(https?:)?//(?P<host>[^/"'\s)>]+)(?P<rest>[^"'\s)>]*)""",
    re.I,
)
LOOPBACK = ("127.0.0.1", "localhost", "[::1]")


def build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        env={**os.environ, **OFFLINE},
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site") / "site"
    done = build(ROOT, out)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr[-4000:]}"
    return out


def test_the_site_builds_strict_with_a_page_for_every_doc_and_the_readme_as_home(site: Path) -> None:
    pages = sorted(p.stem for p in (ROOT / "docs").glob("*.md"))
    assert [p for p in pages if not (site / p / "index.html").is_file()] == []
    home = (site / "index.html").read_text(encoding="utf-8")
    assert "A five-minute tour" in home and 'href="generate/"' in home  # README's docs/generate.md, re-pointed
    assert not (site / "hooks.py").exists()


def test_no_page_is_empty() -> None:
    for page in (ROOT / "docs").glob("*.md"):
        prose = [
            line for line in page.read_text(encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")
        ]
        assert len(prose) >= 5, f"{page.name} has a title and next to nothing else"


def test_the_site_references_no_outside_host(site: Path) -> None:
    found = []
    for file in sorted(site.rglob("*")):
        if file.suffix not in (".html", ".css", ".xml"):
            continue
        for match in REFERENCE.finditer(file.read_text(encoding="utf-8", errors="replace")):
            url = f"https://{match.group('host')}{match.group('rest')}"
            if match.group("host").split(":")[0] in LOOPBACK or url.startswith(ALLOWED_OUTSIDE):
                continue
            found.append(f"{file.relative_to(site)}: {match.group(0)}")
    assert found == [], "the site would fetch or link outside hosts:\n" + "\n".join(found[:40])


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(ROOT / "mkdocs.yml", project)
    shutil.copy(ROOT / "README.md", project)
    shutil.copytree(ROOT / "docs", project / "docs", ignore=shutil.ignore_patterns("__pycache__"))
    page = project / "docs" / "variants.md"
    page.write_text(
        page.read_text(encoding="utf-8") + "\nSee [the limits](speed.md#no-such-heading) and [more](gone.md).\n",
        encoding="utf-8",
    )
    done = build(project, tmp_path / "site")
    assert done.returncode != 0
    assert "no-such-heading" in done.stderr and "gone.md" in done.stderr, done.stderr[-3000:]
