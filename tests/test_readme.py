"""The README and the manual run: every fenced block of README.md and docs/*.md is executed
here, or says why it is not.

The convention (for anyone adding to the README or docs/)
------------------------------------------------
The line right above each fenced block is a marker saying how the block is tested::

    <!-- readme-test: run -->                  sh: a bash script (set -euo pipefail); python: a script
    <!-- readme-test: run | exit=1 -->         the same, expected to exit 1
    <!-- readme-test: output-of: CMD | stream=stderr exit=2 -->
                                               the block is exactly what CMD prints (stdout by default)
    <!-- readme-test: transcript | exit=1 -->  the first line is ``$ CMD``, the rest exactly its stdout
    <!-- readme-test: transcript | timings=vary -->
                                               the same, durations (``0.25 s``, ``12 ms``) left out of
                                               the comparison, and ports substituted in the output too
    <!-- readme-test: file receiver.py -->     the block is written to that file before anything runs
    <!-- readme-test: server | port=9000 -->   started in the background before anything runs; ready
                                               once the port (substituted, see below) accepts connections
    <!-- readme-test: illustrative: REASON --> not run; the reason is required

A block without a marker fails :func:`test_every_block_says_how_it_is_tested`, so no one
can add an untested example by accident. Runnable blocks run in reading order, the README
first, then the pages in the order of the site's nav (mkdocs.yml), sharing one state (what
an earlier block fired, a later one lists), as a reader following the manual from start to
end would; ``file`` and ``server`` blocks of every page are set up first, whatever their
place, so a page may use the receiver another page shows. A test's id names its page, the
heading it is under and its line: ``docs/delivery.md:the-delivery-log-and-losing-nothing:L118-run-sh``.

What is substituted, so that the text stays what a person types: port ``9000`` (your
receiver) becomes the port of the ``server`` block, and ``8025`` (``make run``) the port
of a ``zenoti-emulator serve`` this test starts itself (``make run`` is that command).
Blocks run in a scratch directory holding ``fixtures/`` and ``.venv`` (links into the
repository), with the venv's ``bin`` first on PATH and ``ZENOTI_EMULATOR_DB`` pointing at
a scratch log shared with the served app. Nothing leaves loopback.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import ROOT
from .test_readme_links import slug
from .test_web_serve import serve

# Its tests share module fixtures (built worlds, a server, a browser): `make test` keeps them on
# one xdist worker (tests/conftest.py), which builds each once and runs them in order.
pytestmark = pytest.mark.xdist_group("test_readme")

README = ROOT / "README.md"
DOCS = ROOT / "docs"
MARKER = re.compile(r"^<!--\s*readme-test:\s*(?P<spec>.*?)\s*-->$")
MODES = ("run", "output-of", "transcript", "file", "server", "illustrative")
VENV_BIN = Path(sys.executable).parent
BLOCK_TIMEOUT_S = 180


@dataclass
class Block:
    """One fenced block of a page and the marker above it."""

    line: int  # 1-based line of the opening fence
    lang: str
    text: str
    spec: str | None
    page: str = "README.md"  # the page's path from the repository's root
    heading: str = ""  # the anchor of the heading the block is under ("" above the first)
    mode: str = ""
    arg: str = ""
    options: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.spec is None:
            return
        head, _, opts = self.spec.partition("|")
        mode, _, arg = head.strip().partition(" ")
        self.mode = mode.rstrip(":")
        self.arg = arg.strip()
        self.options = dict(opt.split("=", 1) for opt in opts.split() if "=" in opt)

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def test_id(self) -> str:
        return f"{self.page}:{self.heading or 'top'}:L{self.line}-{self.mode}-{self.lang or 'text'}"

    @property
    def exit_code(self) -> int:
        return int(self.options.get("exit", "0"))


def pages() -> list[Path]:
    """README.md, then every page of docs/ in the order of the site's nav (mkdocs.yml), then any
    page the nav leaves out (which `mkdocs build --strict` refuses: tests/test_docs_site.py)."""
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8").partition("\nnav:")[2]
    listed = [DOCS / name for name in re.findall(r"([\w-]+\.md)\s*$", nav, re.M) if name != "index.md"]
    return [README, *dict.fromkeys(p for p in listed if p.exists()), *sorted(set(DOCS.glob("*.md")) - set(listed))]


def parse_readme(path: Path = README) -> list[Block]:
    """The fenced blocks of one page (the README by default)."""
    page = path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else path.name
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    heading = ""
    i = 0
    while i < len(lines):
        fence = lines[i]
        if not fence.startswith("```"):
            if fence.startswith("#") and (title := re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", fence)):
                heading = slug(title.group(1))
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].rstrip() == "```"), None)
        assert end is not None, f"{page}:{i + 1}: a fenced block that never closes"
        above = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        marker = MARKER.match(above)
        blocks.append(
            Block(
                i + 1,
                fence[3:].strip(),
                "\n".join(lines[i + 1 : end]) + "\n",
                marker.group("spec") if marker else None,
                page,
                heading,
            )
        )
        i = end + 1
    return blocks


def parse_pages() -> list[Block]:
    """Every fenced block of the README and of docs/, in reading order."""
    return [block for path in pages() for block in parse_readme(path)]


def page_file(name: str) -> str:
    """The text of the ``<!-- readme-test: file NAME -->`` block, on whichever page it is."""
    [block] = [b for b in parse_pages() if b.mode == "file" and b.arg == name]
    return block.text


BLOCKS = parse_pages()
RUNNABLE = [b for b in BLOCKS if b.mode in ("run", "output-of", "transcript")]


def test_every_block_says_how_it_is_tested() -> None:
    problems = []
    for b in BLOCKS:
        if b.spec is None:
            problems.append(
                f"{b.where}: no <!-- readme-test: ... --> marker on the line above (see tests/test_readme.py)"
            )
        elif b.mode not in MODES:
            problems.append(f"{b.where}: unknown mode {b.mode!r}; one of {', '.join(MODES)}")
        elif b.mode == "illustrative" and len(b.arg) < 10:
            problems.append(f"{b.where}: an illustrative block says why it is not run")
        elif b.mode == "run" and b.lang not in ("sh", "python"):
            problems.append(f"{b.where}: 'run' runs sh or python blocks, not {b.lang or 'plain'!r}")
        elif b.mode in ("file", "output-of") and not b.arg:
            problems.append(f"{b.where}: {b.mode} needs an argument")
        elif b.mode == "server" and "port" not in b.options:
            problems.append(f"{b.where}: a server block names the port it listens on (| port=N)")
    files = [b.arg for b in BLOCKS if b.mode == "file"]
    problems += [f"two file blocks write {name}" for name in sorted({f for f in files if files.count(f) > 1})]
    ports = [b.options.get("port") for b in BLOCKS if b.mode == "server"]
    problems += [f"two server blocks listen on {port}" for port in sorted({p for p in ports if ports.count(p) > 1})]
    assert problems == [], "\n".join(problems)
    assert RUNNABLE, "the README has no runnable block: the parser is broken"
    assert {b.page for b in RUNNABLE} > {"README.md"}, "no page of docs/ has a runnable block: pages() is broken"


# -- the scratch world the blocks run in ---------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, f"the server block exited with {proc.returncode} before listening"
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on port {port} after {timeout} s"
            time.sleep(0.05)  # polling the port: there is no event to wait on


@dataclass
class World:
    workdir: Path
    env: dict[str, str]
    ports: dict[str, int]

    def substitute(self, text: str) -> str:
        for readme_port, port in self.ports.items():
            text = re.sub(rf"(?<=:){readme_port}\b|(?<=--port ){readme_port}\b", str(port), text)
        return text

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            argv,
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )

    def bash(self, script: str) -> subprocess.CompletedProcess[str]:
        return self.run(["bash", "-euo", "pipefail", "-c", self.substitute(script)])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    workdir = tmp_path_factory.mktemp("readme")
    (workdir / "fixtures").symlink_to(ROOT / "fixtures")
    (workdir / ".venv").symlink_to(VENV_BIN.parent)
    db = workdir / "deliveries.sqlite3"
    env = {
        **os.environ,
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "ZENOTI_EMULATOR_DB": str(db),
        "PYTHONUNBUFFERED": "1",
        "NO_COLOR": "1",
    }
    env.pop("ZENOTI_EMULATOR_SECRET", None)
    ports = {b.options["port"]: free_port() for b in BLOCKS if b.mode == "server"}
    servers: list[subprocess.Popen[bytes]] = []
    with serve(db) as app:
        ports["8025"] = int(app.url.rsplit(":", 1)[1])
        w = World(workdir, env, ports)
        try:
            for b in BLOCKS:
                if b.mode == "file":
                    (workdir / b.arg).write_text(b.text, encoding="utf-8")
            for b in BLOCKS:
                if b.mode == "server":
                    proc = subprocess.Popen(
                        ["bash", "-c", "exec " + w.substitute(b.text).strip()],
                        cwd=workdir,
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                        start_new_session=True,
                    )
                    servers.append(proc)
                    wait_for_port(ports[b.options["port"]], proc)
            yield w
        finally:
            for proc in servers:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(10)
        app.stop()


# -- one test per runnable block, in reading order ------------------------------------------------


def _explain(block: Block, done: subprocess.CompletedProcess[str]) -> str:
    return (
        f"{block.where} ({block.mode}) exited {done.returncode}, expected {block.exit_code}\n"
        f"--- stdout ---\n{done.stdout[-3000:]}\n--- stderr ---\n{done.stderr[-3000:]}"
    )


@pytest.mark.slow
@pytest.mark.parametrize("block", RUNNABLE, ids=[b.test_id for b in RUNNABLE])
def test_readme_block(block: Block, world: World) -> None:
    if block.mode == "run" and block.lang == "python":
        done = world.run([sys.executable, "-c", world.substitute(block.text)])
        assert done.returncode == block.exit_code, _explain(block, done)
    elif block.mode == "run":
        done = world.bash(block.text)
        assert done.returncode == block.exit_code, _explain(block, done)
    elif block.mode == "output-of":
        done = world.bash(block.arg)
        assert done.returncode == block.exit_code, _explain(block, done)
        printed = done.stderr if block.options.get("stream") == "stderr" else done.stdout
        assert printed == block.text, f"{block.where}: the page shows other output than `{block.arg}` prints"
    else:  # transcript
        command, output = _split_transcript(block)
        done = world.bash(command)
        assert done.returncode == block.exit_code, _explain(block, done)
        printed = done.stdout
        if block.options.get("timings") == "vary":  # a run's durations differ every time
            output, printed = _timeless(world.substitute(output)), _timeless(printed)
        assert printed == output, f"{block.where}: the page shows other output than `{command}` prints"


def _timeless(text: str) -> str:
    """``text`` with every duration (``0.25 s``, ``12 ms``) replaced by ``<t>``."""
    return re.sub(r"\b\d+(?:\.\d+)? (?:ms|s)\b", "<t>", text)


def _split_transcript(block: Block) -> tuple[str, str]:
    lines = block.text.splitlines(keepends=True)
    assert lines and lines[0].startswith("$ "), f"{block.where}: a transcript starts with '$ command'"
    command = [lines[0][2:]]
    while command[-1].rstrip("\n").endswith("\\"):
        command.append(lines[len(command)])
    return "".join(command), "".join(lines[len(command) :])


def test_the_marker_parser_reads_modes_arguments_and_options(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "<!-- readme-test: output-of: zenoti-emulator generate | stream=stderr exit=2 -->\n```\nError: x\n```\n\n"
        "text\n```sh\necho unmarked\n```\n"
        "<!-- readme-test: server | port=9000 -->\n\n```sh\nflask run --port 9000\n```\n",
        encoding="utf-8",
    )
    first, unmarked, server = parse_readme(readme)
    assert (first.mode, first.arg, first.options, first.exit_code) == (
        "output-of",
        "zenoti-emulator generate",
        {"stream": "stderr", "exit": "2"},
        2,
    )
    assert unmarked.spec is None and unmarked.text == "echo unmarked\n"
    assert (server.mode, server.options) == ("server", {"port": "9000"})
    w = World(tmp_path, {}, {"9000": 1234, "8025": 4321})
    assert (
        w.substitute("curl localhost:8025/x; flask run --port 9000; http://127.0.0.1:9000/h; -n 9000")
        == "curl localhost:4321/x; flask run --port 1234; http://127.0.0.1:1234/h; -n 9000"
    )
