"""Events: the schemas, what they mean, and the events made from the world with them.

- :mod:`.catalog`: every file under ``schemas/`` and the one meaning of each ``$ref``;
- :mod:`.registry`: event types paired with the actions that emit them, and their validators;
- :mod:`.projection`: an emission's entities shown in Zenoti's payload shape, by the schema;
- :mod:`.generate`: run the world's simulation and turn what it emits into checked events;
- :mod:`.overrides`: ``--set PATH=VALUE`` on every generated event.

Nothing is imported here: ``--help`` loads :mod:`.overrides` alone, and pays for no more.
"""
