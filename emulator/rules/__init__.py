"""Cross-field rules, one module per event type.

Each module declares ``EVENT_TYPE`` (Zenoti's name, matching a schema's ``title``) and a
``scene(ctx)`` function that returns the coherent facts of one event: which center,
which guest, which times. The schema's ``x-source`` annotations read from that scene;
every other field is filled from the schema alone. Optionally ``finish(event, scene)``
adjusts the filled event for rules between leaves (``utm_medium`` after ``booknow``).
"""
