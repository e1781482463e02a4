"""AppointmentGroup.Created: a guest books one or more services at one center.

The rules: each appointment lasts its service's duration; ``*_in_center`` is the same
instant on the center's wall clock (DST included); appointments of a group follow each
other or run in parallel with another therapist; add-ons follow their parent; the group
was created at the event's second, before its first start.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime, timedelta
from typing import Any

from ..business import Center, new_uuid
from ..scene import SceneContext, local_text, next_dst_change, utc_text

EVENT_TYPE = "AppointmentGroup.Created"
#: event_resource as the published sample has it: null, not "AppointmentGroup".
EVENT_RESOURCE = None

#: How many services a guest books together, by profile.
GROUP_SIZES = {
    "realistic": OrderedDict([(1, 72), (2, 18), (3, 7), (4, 3)]),
    "edge": OrderedDict([(1, 15), (2, 15), (5, 20), (12, 25), (40, 25)]),
}
#: The shape of an edge group's first start, so the edges are met often.
EDGE_STARTS = OrderedDict([("midnight", 35), ("dst", 35), ("day", 30)])
OPENING_HOUR, CLOSING_HOUR = 9, 19
#: The longest an edge group starts before the DST change it spans.
DST_LEAD = timedelta(minutes=90)
#: With ``utm_source: "booknow"``, the medium carries the real source (reported).
BOOKNOW_MEDIUMS = OrderedDict([("google", 40), ("instagram", 25), ("facebook", 20), ("direct", 15)])


def scene(ctx: SceneContext) -> dict[str, Any]:
    rng = ctx.rng
    business = ctx.business
    shape = ctx.pick(EDGE_STARTS) if ctx.profile == "edge" else "day"
    center = _center_for(ctx, shape)
    first_start = _first_start(ctx, center, shape)
    created = utc_text(ctx.timestamp)

    appointments: list[dict[str, Any]] = []
    block_start = block_end = first_start
    for index in range(ctx.pick(GROUP_SIZES[ctx.profile])):
        service = rng.choice(center.services)
        parallel = index > 0 and len(center.therapists) > 1 and rng.random() < 0.3
        start = block_start if parallel else block_end
        therapist = rng.choice(center.therapists)
        room = _room(ctx, center, service.needs_room)
        chosen = [a for a in service.add_ons if rng.random() < 0.5]
        block_start, end = start, start + timedelta(minutes=service.duration)
        appointments.append(_appointment(ctx, center, service, therapist, room, start, end, created, bool(chosen), False))
        for add_on in chosen:
            add_start, end = end, end + timedelta(minutes=add_on.duration)
            appointments.append(_appointment(ctx, center, add_on, therapist, room, add_start, end, created, False, True))
        block_end = max(block_end, end)

    return {
        "organization": business.organization,
        "center": center,
        "guest": rng.choice(business.guests),
        "group": {"id": new_uuid(rng)},
        "invoice": {"id": new_uuid(rng), "number": str(ctx.next_invoice_number(center.id))},
        "appointments": appointments,
    }


def finish(event: dict[str, Any], ctx: SceneContext) -> None:
    """Zenoti's booking widget reports itself as the source and the real one as medium."""
    data = event["data"]
    if data.get("utm_source") == "booknow":
        data["utm_medium"] = ctx.pick(BOOKNOW_MEDIUMS)


def _center_for(ctx: SceneContext, shape: str) -> Center:
    centers = ctx.business.centers
    if shape == "dst":
        with_dst = [c for c in centers if next_dst_change(c.zone, ctx.timestamp) is not None]
        if with_dst:
            return ctx.rng.choice(with_dst)
    return ctx.rng.choice(centers)


def _first_start(ctx: SceneContext, center: Center, shape: str) -> datetime:
    """The first appointment's start, in UTC, strictly after the event."""
    rng = ctx.rng
    local_now = ctx.timestamp.astimezone(center.zone)
    if shape == "dst":
        # Start 30 to 90 minutes before the clocks move, so the group spans the change; a
        # change less than DST_LEAD after the event is skipped, or the group would start
        # before it was booked.
        change = next_dst_change(center.zone, ctx.timestamp + DST_LEAD)
        if change is not None:
            return change - timedelta(minutes=rng.choice((30, 45, 60, 90)))
    day = local_now.date() + timedelta(days=rng.randint(0 if shape == "day" else 1, 21))
    if shape == "midnight":
        wall = datetime(day.year, day.month, day.day, 23, rng.choice((0, 15, 30, 45)))
    else:
        wall = datetime(day.year, day.month, day.day, rng.randint(OPENING_HOUR, CLOSING_HOUR - 2), rng.choice((0, 15, 30, 45)))
    start = wall.replace(tzinfo=center.zone).astimezone(ctx.utc)
    if start <= ctx.timestamp:
        start += timedelta(days=1)
    return start


def _room(ctx: SceneContext, center: Center, needs_room: bool) -> dict[str, Any]:
    if not needs_room:
        return {"id": None, "name": None}
    room = ctx.rng.choice(center.rooms)
    if ctx.profile == "edge" and ctx.rng.random() < 0.3:
        return {"id": room.id, "name": ctx.fake.edge_room()}
    return {"id": room.id, "name": room.name}


def _appointment(ctx: SceneContext, center: Center, service: Any, therapist: Any, room: dict[str, Any],
                 start: datetime, end: datetime, created: str, has_add_ons: bool, is_add_on: bool) -> dict[str, Any]:
    return {
        "service": service,
        "therapist": therapist,
        "room": room,
        "start_time": utc_text(start),
        "end_time": utc_text(end),
        "start_time_in_center": local_text(start, center.zone),
        "end_time_in_center": local_text(end, center.zone),
        "creation_date": created,
        "last_updated_on": created,
        "has_add_ons": has_add_ons,
        "is_add_on": is_add_on,
        "equipment_name": service.equipment if ctx.profile != "edge" else ctx.rng.choice((service.equipment, "", None)),
    }
