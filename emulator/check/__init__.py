"""Contract checks: a receiver probed with real requests, and the verdict explained.

- :mod:`.checks`: the checks and the run that sends their requests;
- :mod:`.causes`: what an answer means, in one place: its class, its words, its fix;
- :mod:`.report`: a run's report as text, JSON or JUnit.
"""
