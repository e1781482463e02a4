"""What Zenoti's read API costs: advancing its world, and answering one call.

    .venv/bin/python benchmarks/bench_zenoti_api.py [--days 1 7] [--calls 500]

CPU seconds (``time.process_time``, so other load on the machine does not count) to
advance the world of seed 7 for each ``--days`` with its ledger (what ``zenoti-emulator
api`` does before it listens), then the CPU per call of the commonest receiver calls
(a guest, a guest's appointments, an invoice, a phone search) through the Flask app
in-process (no socket: the answer's own cost), after one warm-up call each.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from emulator.zenoti_api import ApiState, advanced_world, create_api_app

NOW = datetime(2024, 7, 25, 8, tzinfo=UTC)
AUTH = {"Authorization": "apikey zenoti-emulator-key"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, nargs="+", default=[1.0, 7.0])
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    ledger = None
    for days in args.days:
        started = time.process_time()
        ledger = advanced_world(seed=7, now=NOW, days=days)
        print(
            f"advance {days:g} day(s): {time.process_time() - started:.2f} s CPU, {ledger.events} events, "
            f"{len(ledger.groups)} groups"
        )
    assert ledger is not None
    client = create_api_app(ApiState(lambda: ledger)).test_client()
    group = next(iter(ledger.groups.values()))
    guest = ledger.guest(group.guest_id)
    phone = guest.mobile.number if guest and guest.mobile else "1"
    for name, path in (
        ("guest", f"/v1/guests/{group.guest_id}"),
        ("appointments", f"/v1/guests/{group.guest_id}/appointments"),
        ("invoice", f"/v1/invoices/{group.invoice.id}"),
        ("search by phone", f"/v1/guests/search?phone={phone}"),
    ):
        client.get(path, headers=AUTH)  # warm: the first call compiles the schema's projection
        started = time.process_time()
        for _ in range(args.calls):
            assert client.get(path, headers=AUTH).status_code == 200
        print(f"{name}: {(time.process_time() - started) / args.calls * 1000:.2f} ms CPU per call")


if __name__ == "__main__":
    main()
