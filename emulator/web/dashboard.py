"""The dashboard at ``/``: one server-rendered page, kept live by a little plain JavaScript.

The page is rendered with what is known at load time (event types, webhooks, sinks, a
preview, the schema of the default type); ``static/app.js`` then talks to the JSON API
only, polling the delivery log every ``DASHBOARD_POLL_MS`` so new rows appear without a
reload. There is no front-end build step: the files in ``static/`` are what is served.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, current_app, render_template

from .. import __version__
from ..errors import EmulatorError
from .services import services

bp = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static", static_url_path="/static")


@bp.get("/")
def index() -> Any:
    svc = services()
    kind = svc.registry.get_type(svc.default_event_type)
    try:
        preview = json.dumps(svc.generate(kind.name, seed=0)[0], indent=2, ensure_ascii=False)
    except EmulatorError as exc:  # a broken generator must not take the page down
        preview = exc.message
    return render_template(
        "index.html",
        version=__version__,
        event_types=list(svc.registry.values()),
        default_type=kind.name,
        profiles=svc.profiles,
        webhooks=[svc.webhook_dict(h) for h in svc.store.list_webhooks()],
        sinks=[sink for sink, _ in svc.sinks.list()],
        fields=svc.fields(kind),
        preview=preview,
        poll_ms=current_app.config["DASHBOARD_POLL_MS"],
        deactivate_after=svc.options.deactivate_after,
        bind_host=current_app.config["BIND_HOST"],
        # the page asks Zenoti's read API (/v1) about an event's guest, group and invoice
        zenoti_key=current_app.extensions["zenoti_api"].api_key,
    )
