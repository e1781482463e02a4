"""Delivery: sending events the way Zenoti does, and the log that remembers every attempt.

- :mod:`.deliverer`: the worker pool, the retry policy and the sending of one attempt;
- :mod:`.transport`: the connection layer, so that every attempt ends by its deadline;
- :mod:`.signing`: Zenoti's signature, made and verified;
- :mod:`.store`: the delivery log (SQLite): webhooks, deliveries, attempts, captures;
- :mod:`.sinks`: built-in receivers and the requests they captured;
- :mod:`.pacing` and :mod:`.disorder`: a stream sent at its clock's speed, and with
  at-least-once delivery's duplicates, reorders and delays;
- :mod:`.curl`: a logged request as a ``curl`` command line.

Nothing is imported here: ``--help`` loads :mod:`.signing`, :mod:`.pacing` and
:mod:`.disorder` for their option choices, and must not pay for requests or SQLite.
"""
