"""Captures: what Zenoti (or a proxy) sent, read, validated and kept.

- :mod:`.validate`: captures of every format read, checked against the schemas, their
  drift listed and reported;
- :mod:`.relay`: real Zenoti traffic relayed to a local receiver, checked and kept;
- :mod:`.recorded`: what the relay kept exported as fixtures, and fixtures read back.
"""
