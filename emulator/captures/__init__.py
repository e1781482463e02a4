"""Captures: what Zenoti (or a proxy) sent, read, validated and kept.

- :mod:`.validate`: the front door (:func:`~.validate.run`,
  :func:`~.validate.validate_payloads`, :class:`~.validate.Report`), over
  :mod:`.readers` (every capture format, read as a stream of records),
  :mod:`.checking` (each record's verdict and errors), :mod:`.drift` (how captures
  differ from the schema) and :mod:`.renderers` (text, JSON, JUnit);
- :mod:`.relay`: real Zenoti traffic relayed to a local receiver, checked and kept;
- :mod:`.recorded`: what the relay kept exported as fixtures, and fixtures read back.
"""
