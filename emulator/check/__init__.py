"""Contract checks: a receiver probed with real requests, and the verdict explained.

- :mod:`.run`: :class:`~.run.CheckConfig` and :class:`~.run.CheckRun`, the run that sends
  the checks' requests (its events, its probe, the pacing a rate limiter asks for);
- :mod:`.checks`: the protocol checks and :data:`~.checks.CHECKS`, the suite in order;
  :mod:`.payloads` (unknown fields, the largest events) and :mod:`.speed` (latency,
  burst) the others;
- :mod:`.results`: what a check is and what it found; :mod:`.verdicts`: how a verdict is
  worded from what came back; :mod:`.causes`: what an answer means, its words, its fix;
- :mod:`.observe`: what the receiver did with an event, when it lets the checks see;
- :mod:`.report`: a run's report as text, JSON or JUnit.
"""
