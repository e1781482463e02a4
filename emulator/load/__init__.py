"""Load a receiver the way a busy Zenoti organization does, on Locust.

The pieces, one idea each, data flowing one way:

- :mod:`.feed`: the events one Locust user sends, from its own shard of the world
  (a seed partition by worker and user index), as signed requests ready for the wire.
  Pure: no Locust, no gevent.
- :mod:`.tally`: what came back (status classes per event type, latencies, throughput
  per second), mergeable across workers. Pure.
- :mod:`.user`: the Locust user class, :class:`~emulator.load.user.ZenotiWebhookUser`,
  importable from a plain locustfile; it registers its ``--zenoti-*`` options with Locust.
  Importing it imports Locust, which monkey-patches the process with gevent.
- :mod:`.run`: ``zenoti-emulator load``: Locust headless in-process, as one machine, a
  master or a worker, plus ``--find-limit`` and ``--drain``.
- :mod:`.plot`: the rate-against-latency plot of ``--find-limit`` (HTML with inline SVG).

Nothing here is imported when the CLI starts: ``emulator.cli.load`` imports :mod:`.run`
inside its command function, so the other commands never load Locust or gevent.
"""
