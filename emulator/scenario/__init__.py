"""Scenarios: short stories on the world, written as files, played as ordered events.

:mod:`.story` reads and checks a scenario file (TOML); :mod:`.play` plays its steps as
actions of the seed's world and makes their events, each with the ids that link it
(:mod:`.links`); :mod:`.stage` orders a played story's deliveries. The built-in scenarios live in
``builtin/`` in the same format a user writes.
"""

from __future__ import annotations

from .links import Played
from .play import Player, play
from .stage import Run, stage
from .story import ACTIONS, Scenario, ScenarioError, Step, builtin_names, load, parse

__all__ = [
    "ACTIONS",
    "Played",
    "Player",
    "Run",
    "Scenario",
    "ScenarioError",
    "Step",
    "builtin_names",
    "load",
    "parse",
    "play",
    "stage",
]
