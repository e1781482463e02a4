"""The manual's receivers, as a reader copies them, pass `check` (issue 26, point 6).

`receiver.py` (Flask and the standard library's hmac) and `receiver.js` (Express, the
body read with express.raw) are taken from the ``file`` blocks of docs/receiver.md, started on a
loopback port, and checked with the installed `zenoti-emulator check --secret s3cret`.
Neither may lean on the emulator: nobody ships `emulator.delivery.signing` to production.

The Express receiver needs Node.js and express: `make test` installs express into
tests/node (npm ci, from its lock file). Without Node the test is skipped, saying what to
install; CI sets ZENOTI_REQUIRE_NODE=1, where a missing Node fails it instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import ROOT
from .test_readme import free_port, page_file, wait_for_port

NODE_MODULES = ROOT / "tests" / "node" / "node_modules"
#: a burst of 100 instead of 500 keeps each run near 20 s; every other check runs as is
CHECK_ARGS = ("--secret", "s3cret", "--burst", "100")


@contextmanager
def started(argv: list[str], cwd: Path, port: int, env: dict[str, str]) -> Iterator[str]:
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        proc.terminate()
        proc.wait(10)


def check(command: str, url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [command, "check", url, *CHECK_ARGS, "--format", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )


def assert_passes(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, f"check failed:\n{done.stdout[-4000:]}\n{done.stderr[-2000:]}"


def test_the_readme_receivers_verify_with_their_own_code_not_the_emulators() -> None:
    python, node = page_file("receiver.py"), page_file("receiver.js")
    assert "emulator" not in python and "import hmac" in python and "compare_digest" in python
    assert "express.raw" in node and "timingSafeEqual" in node
    # nor does the receiver of the pytest example: only the test itself uses the emulator
    assert (
        "emulator.delivery.signing" not in (ROOT / "docs" / "pytest.md").read_text(encoding="utf-8").split("```sh")[0]
    )


@pytest.mark.slow
def test_the_hmac_receiver_passes_check(command: str, tmp_path: Path) -> None:
    (tmp_path / "receiver.py").write_text(page_file("receiver.py"), encoding="utf-8")
    port = free_port()
    flask = str(Path(sys.executable).parent / "flask")
    with started([flask, "--app", "receiver", "run", "--port", str(port)], tmp_path, port, {}) as url:
        assert_passes(check(command, url))


@pytest.mark.slow
def test_the_express_receiver_passes_check(command: str, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        message = "the Express receiver needs Node.js: install it (apt-get install nodejs npm), then run make test"
        if os.environ.get("ZENOTI_REQUIRE_NODE"):
            pytest.fail(message)
        pytest.skip(message)
    assert (NODE_MODULES / "express").is_dir(), "express is not installed: run `make test` (npm ci --prefix tests/node)"
    (tmp_path / "receiver.js").write_text(page_file("receiver.js"), encoding="utf-8")
    port = free_port()
    with started([node, "receiver.js"], tmp_path, port, {"PORT": str(port), "NODE_PATH": str(NODE_MODULES)}) as url:
        assert_passes(check(command, url))
