"""A receiver as real ones are written: it takes AppointmentGroup.Created and calls Zenoti
back for what the event does not carry (the guest's phone).

Its only setting is Zenoti's base URL and key, as in production; the tests point it at
the emulator's read API. Used by tests/test_zenoti_api.py.
"""

from __future__ import annotations

import threading
from typing import Any

import requests
from flask import Flask, request


class EnrichingReceiver:
    """Records each booking with the guest's mobile phone, asked of ``/v1/guests/{id}``."""

    def __init__(self, zenoti_base_url: str, api_key: str, *, timeout: float = 5.0) -> None:
        self.base = zenoti_base_url.rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.bookings: list[dict[str, Any]] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.session = requests.Session()
        self.app = Flask(__name__)
        self.app.add_url_rule("/hook", "hook", self.hook, methods=["POST"])

    def phone_of(self, guest_id: str) -> dict[str, Any] | None:
        response = self.session.get(
            f"{self.base}/v1/guests/{guest_id}",
            timeout=self.timeout,
            headers={"Authorization": f"apikey {self.api_key}", "Accept": "application/json"},
        )
        response.raise_for_status()
        return response.json()["personal_info"]["mobile_phone"]  # type: ignore[no-any-return]

    def hook(self) -> Any:
        event = request.get_json(force=True)
        if event.get("event_type") != "AppointmentGroup.Created":
            return "", 200
        data = event["data"]
        try:
            phone = self.phone_of(data["guest"]["id"])
        except requests.RequestException as exc:
            with self.lock:
                self.failures.append(f"{data['appointment_group_id']}: {exc}")
            return "Zenoti did not answer", 503  # Zenoti retries: the receiver asks again then
        with self.lock:
            self.bookings.append(
                {"group_id": data["appointment_group_id"], "guest_id": data["guest"]["id"], "phone": phone}
            )
        return "", 200
