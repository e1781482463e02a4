"""Variants: the facts about real Zenoti that receivers disagree on, as named choices.

Where the evidence is thin or open-source receivers of real traffic read a fact two ways
(what appointment status ``1`` means, ``email`` or ``guest_email`` on an invoice's guest,
whether the reported-but-undocumented event types are sent), the emulator does not pick
one silently: each such fact is a :class:`Variant` declared in :data:`VARIANTS`, with its
default (the better-sourced reading), its choices and the evidence in one line. A user
picks another reading with ``--variant NAME=VALUE`` (CLI), ``"variants": {NAME: VALUE}``
(the JSON API) or ``variants={...}`` (the pytest fixture).

The chosen readings travel as one :class:`Variants` value, part of what the
:class:`~emulator.world.World` is built with: actions read it (``world.variants``) and
the projection selects schema properties marked ``x-variant`` with it. Nothing else
consults variants, so a variant changes what it declares and nothing else.

Adding a variant is one :class:`Variant` in :data:`VARIANTS` and the code (or the
``x-variant`` schema annotation) that reads it.

Pure: no I/O, no click.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import UsageError


@dataclass(frozen=True, slots=True)
class Variant:
    """One fact with several readings: its name, the default, every choice, and why."""

    name: str
    default: str
    choices: tuple[str, ...]
    #: the evidence for the choices, in one line (``variants`` prints it)
    evidence: str
    #: what a choice other than the default changes in the stream, in one line
    changes: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "default": self.default,
            "choices": list(self.choices),
            "evidence": self.evidence,
            "changes": self.changes,
        }


#: Every variant, by name. The first choice of each is its default.
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            "status-1",
            "closed",
            ("closed", "cancelled"),
            "Zenoti's API definitions: 1 = closed (completed and paid); one receiver (zenoti-ghl) reads 1 as cancelled.",
            "cancelled: a cancellation sends 1 instead of -1, and check-out sends no status 1 (closed has no code then).",
        ),
        Variant(
            "invoice-guest-email",
            "email",
            ("email", "guest_email"),
            "Three receivers read invoice.guest.email (one renamed its field as a fix of live data); the docs sample has guest_email.",
            "guest_email: Invoice.Closed's data.invoice.guest carries the address as guest_email instead of email.",
        ),
        Variant(
            "guest-phone-country-code",
            "country-id",
            ("country-id", "phone-code"),
            "Live guests (zennara, checked live; WinkBrowBar, on webhooks) carry Zenoti's country id in country_code next to phone_code; the docs' Employee samples put the dialling code there.",
            "phone-code: guests' mobile_phone.country_code holds the dialling code (1, 91), the same as phone_code.",
        ),
        Variant(
            "reported-events",
            "on",
            ("on", "off"),
            "Guest.Merged, AppointmentGroup.Updated and AppointmentGroup.Delete are handled by open-source receivers, absent from Zenoti's docs.",
            "off: those three types are not sent; the world still merges guests, edits and deletes groups (a receiver that did not subscribe).",
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Variants:
    """The readings chosen for one stream: only those that differ from the default are kept,
    sorted, so two equal choices are one value (hashable: compiled projections key on it)."""

    chosen: tuple[tuple[str, str], ...] = ()

    def __getitem__(self, name: str) -> str:
        for key, value in self.chosen:
            if key == name:
                return value
        return VARIANTS[name].default

    def matches(self, condition: Mapping[str, Any]) -> bool:
        """Whether every ``{name: value or [values]}`` of ``condition`` holds (``x-variant``)."""
        for name, wanted in condition.items():
            if name not in VARIANTS:
                raise KeyError(name)
            value = self[name]
            if value != wanted and not (isinstance(wanted, list) and value in wanted):
                return False
        return True

    def to_dict(self) -> dict[str, str]:
        """Every variant with its reading, defaults included."""
        return {name: self[name] for name in VARIANTS}

    def describe(self) -> str:
        return ",".join(f"{k}={v}" for k, v in self.chosen) or "defaults"

    @classmethod
    def of(cls, mapping: Mapping[str, Any] | None = None) -> Variants:
        """From ``{name: value}``; an unknown name or value is a :class:`UsageError` naming the fix."""
        chosen: dict[str, str] = {}
        for name, value in (mapping or {}).items():
            variant = VARIANTS.get(str(name))
            if variant is None:
                raise UsageError(
                    f"Unknown variant {name!r}: use one of {', '.join(VARIANTS)} (`zenoti-emulator variants` lists them)."
                )
            if not isinstance(value, str) or value not in variant.choices:
                raise UsageError(
                    f"Variant {variant.name} cannot be {value!r}: use one of {', '.join(variant.choices)}."
                )
            if value != variant.default:
                chosen[variant.name] = value
            else:
                chosen.pop(variant.name, None)
        return cls(tuple(sorted(chosen.items())))

    @classmethod
    def parse(cls, texts: Iterable[str]) -> Variants:
        """From ``NAME=VALUE`` texts (``--variant``, repeatable; the last of one name wins)."""
        mapping: dict[str, str] = {}
        for text in texts:
            name, sep, value = str(text).partition("=")
            if not sep:
                raise UsageError(f"--variant takes NAME=VALUE, e.g. --variant status-1=cancelled, not {text!r}.")
            mapping[name.strip()] = value.strip()
        return cls.of(mapping)


#: Every default reading.
DEFAULT = Variants()


def coerce(value: Variants | Mapping[str, Any] | Iterable[str] | None) -> Variants:
    """A :class:`Variants` from what callers hold: one already, a mapping, or NAME=VALUE texts."""
    if value is None:
        return DEFAULT
    if isinstance(value, Variants):
        return value
    if isinstance(value, Mapping):
        return Variants.of(value)
    if isinstance(value, str):
        return Variants.parse([value])
    return Variants.parse(value)


def sends(kind: Any, variants: Variants) -> bool:
    """Whether an event type is sent under ``variants``: a type marked ``x-reported`` in
    its schema (seen in receivers, not in Zenoti's docs) only with ``reported-events=on``."""
    return not kind.reported or variants["reported-events"] == "on"


def select(schema: Any, variants: Variants) -> Any:
    """``schema`` without the properties whose ``x-variant`` the chosen readings do not match.

    A property marked ``"x-variant": {"invoice-guest-email": "guest_email"}`` exists in
    the payload only under that reading. The schema itself (for validation) keeps every
    such property optional, so both readings validate. A property whose value, not key,
    depends on a reading says where it comes from under each one:
    ``"x-variant-source": {"guest-phone-country-code": {"phone-code": "phone_code"}}``
    replaces its ``x-source`` under that reading.
    """
    if isinstance(schema, list):
        return [select(item, variants) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, sub in schema.items():
        if key == "properties" and isinstance(sub, dict):
            out[key] = {
                name: select(prop, variants)
                for name, prop in sub.items()
                if not (isinstance(prop, dict) and "x-variant" in prop and not variants.matches(prop["x-variant"]))
            }
        else:
            out[key] = select(sub, variants)
    for name, paths in schema.get("x-variant-source", {}).items():
        if variants[name] in paths:
            out["x-source"] = paths[variants[name]]
    return out
