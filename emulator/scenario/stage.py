"""A scenario staged for delivery: its events in story order, and the order they go out.

A scenario is a short story (at most :data:`~.story.MAX_STEPS` steps), so its events are
kept in memory: disorder (``--disorder``) moves an event after later ones, which needs
them at hand.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..delivery.disorder import Delivery, Disorder, Report, disorder as shuffle
from .links import Played
from .play import play
from .story import Scenario


@dataclass(slots=True)
class Run:
    """A played scenario ready to deliver: its events in story order, the deliveries in the
    order they go out (disordered when asked), and what disorder did."""

    scenario: Scenario
    seed: int
    played: list[Played]
    deliveries: list[Delivery]
    report: Report | None


def stage(
    scenario: Scenario,
    *,
    seed: int | None = None,
    now: datetime | None = None,
    profile: str = "realistic",
    overrides: Sequence[tuple[Any, Any]] = (),
    validate: bool = True,
    disorder: Disorder | None = None,
    variants: Any = None,
    fresh: bool = False,
) -> Run:
    """Play ``scenario`` to its end and order its deliveries. A scenario is a short story
    (at most :data:`~.story.MAX_STEPS` steps), so its events are kept in memory: disorder
    moves an event after later ones, which needs them at hand."""
    player = play(
        scenario,
        seed=seed,
        now=now,
        profile=profile,
        overrides=overrides,
        validate=validate,
        variants=variants,
        fresh=fresh,
    )
    played = list(player)
    pairs = [(p.moment, p.event) for p in played]
    if disorder is None or not disorder.active:
        return Run(scenario, player.seed, played, [Delivery(i, 0, m, e) for i, (m, e) in enumerate(pairs)], None)
    deliveries, report = shuffle(pairs, disorder)
    return Run(scenario, player.seed, played, deliveries, report)
