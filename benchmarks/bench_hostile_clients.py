"""Hostile clients and inputs against ``serve``, ``relay``, ``fire`` and ``validate`` (issue 21).

    .venv/bin/python benchmarks/bench_hostile_clients.py [--slow 200] [--skip-inputs]

Slowloris: ``serve`` and ``relay`` run as installed commands on loopback; ``--slow``
connections from 127.0.0.2 (another client) each send half a request and stop; then a
normal request from 127.0.0.1 is timed, five times. Target: under 1 s each.

Huge inputs: each command runs in its own process, and its peak RSS is read from
``wait4``. Target: under 150 MB, with one refusal line and exit 2 (``fire``) or one invalid
record and exit 1 (``validate``).

- ``fire --from-file /dev/zero``
- ``fire --from-file`` a 100 MB single-line ``.json``
- ``validate`` a 300 MB single-line ``.jsonl``
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

COMMAND = str(Path(sys.executable).with_name("zenoti-emulator"))


def _start(args: list[str], ready: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if ready in line:
            url = re.search(r"http://[^/\s]+", line)
            assert url is not None
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # type: ignore[union-attr]
            return proc, url.group(0)
    raise RuntimeError(f"{args[1]} did not start")


def slowloris(which: str, n: int, db: Path) -> list[float]:
    if which == "serve":
        proc, url = _start([COMMAND, "serve", "--port", "0", "--db", str(db)], " on http://")
        method, path = "GET", "/api/health"
    else:
        proc, url = _start(
            [COMMAND, "relay", "--port", "0", "--db", str(db), "--forward-to", "http://127.0.0.1:9/"], "Relaying "
        )
        method, path = "POST", "/zenoti"
    host, port = url.removeprefix("http://").split(":")
    held = []
    try:
        for _ in range(n):
            sock = socket.create_connection((host, int(port)), timeout=10, source_address=("127.0.0.2", 0))
            sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")
            held.append(sock)
        import requests

        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            answer = requests.request(method, url + path, data=b"{}" if method == "POST" else None, timeout=30)
            times.append(time.perf_counter() - t0)
            assert answer.status_code in (200, 202), answer.status_code
        return times
    finally:
        for sock in held:
            sock.close()
        proc.terminate()
        proc.wait(30)


def peak(args: list[str]) -> tuple[int, float, int, str]:
    """Exit code, peak RSS in MB, CPU seconds and the last stderr line of one run."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace").strip().splitlines()
    _, status, usage = os.wait4(proc.pid, 0)
    cpu = usage.ru_utime + usage.ru_stime
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024, cpu, err[-1] if err else ""  # type: ignore[return-value]


def _one_line(path: Path, head: bytes, megabytes: int) -> Path:
    """A file of one JSON line of ``megabytes`` MB, written a MiB at a time: a child forked
    from a process holding it all would report that memory as its own peak."""
    chunk = b"x" * (1 << 20)
    with path.open("wb") as out:
        out.write(head)
        for _ in range(megabytes):
            out.write(chunk)
        out.write(b'"}\n')
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slow", type=int, default=200, help="slow connections held (default 200)")
    parser.add_argument("--skip-inputs", action="store_true", help="only the slowloris part")
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        print(f"Slowloris: {ns.slow} half requests from 127.0.0.2 held open; a normal request from 127.0.0.1")
        for which in ("serve", "relay"):
            times = slowloris(which, ns.slow, tmpdir / f"{which}.sqlite3")
            print(
                f"  {which:6} answered in {', '.join(f'{t * 1000:.0f} ms' for t in times)}  (max {max(times):.3f} s; target < 1 s)"
            )
        if ns.skip_inputs:
            return
        line100 = _one_line(tmpdir / "line100.json", b'{"event_type":"AppointmentGroup.Created","data":"', 100)
        line300 = _one_line(tmpdir / "line300.jsonl", b'{"x":"', 300)
        db = str(tmpdir / "inputs.sqlite3")
        print("Huge inputs: peak RSS (target < 150 MB)")
        for label, args in (
            (
                "fire --from-file /dev/zero",
                [COMMAND, "fire", "--db", db, "-t", "http://127.0.0.1:9/", "--from-file", "/dev/zero"],
            ),
            (
                "fire --from-file 100 MB line",
                [COMMAND, "fire", "--db", db, "-t", "http://127.0.0.1:9/", "--from-file", str(line100)],
            ),
            ("validate 300 MB line", [COMMAND, "validate", str(line300)]),
        ):
            code, mb, cpu, last = peak(args)
            print(f"  {label:30} exit {code}  peak {mb:6.1f} MB  cpu {cpu:.2f} s  {last[:90]}")


if __name__ == "__main__":
    main()
