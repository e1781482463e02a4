"""Delivery: sending events the way Zenoti does, and the log that remembers every attempt.

- :mod:`.deliverer`: the worker pool that delivers, retries on schedule and deactivates;
- :mod:`.retry`: the retry policy and a run's delivery options;
- :mod:`.sender`: one attempt: the event's bytes signed, sent, and what came back;
- :mod:`.transport`: the connection layer, so that every attempt ends by its deadline;
- :mod:`.signing`: Zenoti's signature, made and verified;
- the delivery log (SQLite): :mod:`.store` (deliveries, attempts, the schedule, captures),
  :mod:`.webhooks` (the webhooks table), :mod:`.rows` (what the log holds, as values),
  :mod:`.database` (the file, its connections, transactions and the process lease);
- :mod:`.sinks`: built-in receivers and the requests they captured;
- :mod:`.pacing` and :mod:`.disorder`: a stream sent at its clock's speed, and with
  at-least-once delivery's duplicates, reorders and delays;
- :mod:`.curl`: a logged request as a ``curl`` command line.

Nothing is imported here: ``--help`` loads :mod:`.signing`, :mod:`.pacing` and
:mod:`.disorder` for their option choices, and must not pay for requests or SQLite.
"""
