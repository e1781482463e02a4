"""Guests rate their visit: Feedback V1 (four scores) or V2 (one score and tags).

Feedback follows a visit whose every appointment was completed, hours later (the survey
Zenoti sends after check-out). Which version a center uses is its setting: the first
center of a world uses V1, the second V2, the others either, so one run shows both.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from .. import AppointmentGroup, Center, World
from ..aftercare import Feedback, Rating, Tag
from . import Emission, Scheduler

EMITS = ("Appointment.Feedback.V1", "Appointment.Feedback.V2")

#: Share of fully completed visits the guest gives feedback on.
FEEDBACK_SHARE = 0.3
#: Hours between the last appointment's completion and the feedback.
DELAY_HOURS = (0.5, 30.0)
#: Scores guests give, 1 to 5: (score, weight). Most visits go well.
SCORES = ((5, 50), (4, 28), (3, 11), (2, 6), (1, 5))
#: Feedback V2's tags (the five of the published sample).
TAGS = (Tag(1, "ambience"), Tag(2, "check-in"), Tag(3, "check-out"), Tag(4, "cleanliness"), Tag(5, "safety standards"))
COMMENTS = (
    "",
    "",
    "",
    "Lovely as always.",
    "Great massage, very relaxing.",
    "Waited 15 minutes past my time.",
    "The room was a bit cold.",
    "Best facial I've had!",
    "Friendly front desk.",
    "feedback",
)
EDGE_COMMENTS = ("", "Très bien 👍 merci", 'O\'Brien said "perfect"', "非常好", "x" * 2000, "🙂" * 50, "\n\t")


def _score(rng: random.Random) -> int:
    return rng.choices([s for s, _ in SCORES], weights=[w for _, w in SCORES])[0]


def version(world: World, center: Center) -> int:
    """The feedback version ``center`` is set up with."""
    index = world.centers.index(center)
    return (1, 2)[index] if index < 2 else world.streams("feedback-version", center.id).choice((1, 2))


def give_feedback(
    world: World, group: AppointmentGroup, moment: datetime, rng: random.Random, *, score: int | None = None
) -> list[Emission]:
    """The guest's feedback on ``group``, in their center's version; none from a guest
    deleted meanwhile (no event mentions a deleted guest). ``score`` (1 to 5) is what the
    guest gives (V1: every one of its four scores); drawn from :data:`SCORES` when unset."""
    if group.guest_id not in world.guests:
        return []
    if any(a.progress != 2 for a in group.appointments):
        raise AssertionError(f"feedback on group {group.id} before every appointment was completed")
    center, kind = group.center, version(world, group.center)

    def given() -> int:
        return _score(rng) if score is None else score

    rating: Rating | int = Rating(given(), given(), given(), given()) if kind == 1 else given()
    tags = tuple(t for t in TAGS if rng.random() < 0.3) if kind == 2 else ()
    comments = rng.choice(EDGE_COMMENTS if world.profile == "edge" else COMMENTS)
    feedback = Feedback(
        world.organization.id.upper(),
        center.id.upper(),
        group.guest_id.upper(),
        group.id.upper(),
        rating,
        comments,
        0,
        rng.random() < 0.8,
        rng.random() < 0.6,
        tags,
    )
    name = f"Appointment.Feedback.V{kind}"
    return [Emission(name, moment, f"{name}:{group.id}", {"feedback": feedback})]


def install(sim: Scheduler) -> None:
    """Feedback comes hours after the last appointment of a visit is completed."""

    def on_completed(sim: Scheduler, moment: datetime, group: AppointmentGroup, appointment: Any) -> list[Emission]:
        if any(a.progress != 2 for a in group.appointments):
            return []
        rng = sim.world.streams("feedback", group.id)
        if rng.random() < FEEDBACK_SHARE:
            when = moment + timedelta(hours=rng.uniform(*DELAY_HOURS))
            sim.at(when, lambda at, g: give_feedback(sim.world, g, at, rng), group)
        return []

    sim.on("appointment_completed", on_completed)
