"""The schema catalog: every file under ``schemas/``, and the one meaning of each ``$ref``.

The catalog is data. A shared envelope (``envelope.v1.json``), shared leaf types
(``common.v1.json``) and shared shapes (``shapes/guest.v1.json``…) are referred to with
``$ref`` from small per-event schemas (``events/guest-created.v1.json``). Generation,
validation and the bundled documents handed to other tools all resolve references
through the catalog, so there is exactly one answer to "what does this ``$ref`` mean".

Loading is cheap, because every command that makes an event pays for it at start: the
files are parsed and indexed by ``$id``, nothing more. A reference is followed when a
type is first used (our references are a document's ``$id`` plus a JSON pointer, which
:func:`_lookup` walks directly), and the ``referencing`` registry the pure-Python
validator needs is built on first use. Whether our own schemas obey the 2020-12
metaschema and refer only to what exists is :func:`check_catalog`'s question, asked by
the test suite (``tests/test_registry.py``) and for any folder a caller passes in, not at
every start.

Three views of an event schema come out of here:

- the file as written, for the pure-Python validator (with the registry);
- :func:`bundle`: one self-contained document whose every ``$ref`` points into its own
  ``$defs`` (what ``zenoti-emulator schema TYPE`` prints, for plain validators and code
  generators, and what the compiled validator is built from);
- :func:`resolve`: the tree with every ``$ref`` replaced by what it names (siblings of a
  ``$ref`` win), for walking: generation, field listings and docs.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin

from ..errors import SchemaBroken

#: Where the per-event schemas are, below the catalog's folder.
EVENTS_FOLDER = "events"
#: How deep ``$ref`` chains may go before the catalog calls it a loop.
MAX_REF_DEPTH = 32


@dataclass(frozen=True)
class Catalog:
    """Every schema document of one folder, by ``$id``."""

    #: the folder the documents were read from
    root: Path
    #: every document by its ``$id``
    documents: dict[str, dict[str, Any]]
    #: the per-event documents, by file, in name order
    event_files: tuple[tuple[Path, dict[str, Any]], ...]

    @functools.cached_property
    def registry(self) -> Any:
        """The documents as one ``referencing`` registry, for the pure-Python validator
        (built on first use: a valid event never needs it)."""
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012

        resources = [
            (uri, Resource.from_contents(doc, default_specification=DRAFT202012)) for uri, doc in self.documents.items()
        ]
        return Registry().with_resources(resources).crawl()


def load_catalog(root: Path, *, check: bool = False) -> Catalog:
    """Read every ``*.json`` below ``root``, indexed by ``$id``.

    :param check: also run :func:`check_catalog` (a folder we did not ship).
    :raise SchemaBroken: a document that does not parse or has no ``$id``; with ``check``,
        one that breaks the 2020-12 metaschema or refers to something the catalog does not have.
    """
    documents: dict[str, dict[str, Any]] = {}
    events: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted(root.rglob("*.json")):
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise SchemaBroken(f"Schema {path.relative_to(root)} is broken: {exc}") from exc
        uri = document.get("$id") if isinstance(document, dict) else None
        if not isinstance(uri, str):
            if check:
                _check_metaschema(path, root, document)
            raise SchemaBroken(f"Schema {path.relative_to(root)} has no $id: every catalog document needs one.")
        documents[uri] = document
        if path.parent.name == EVENTS_FOLDER:
            events.append((path, document))
    catalog = Catalog(root, documents, tuple(events))
    if check:
        check_catalog(catalog)
    return catalog


def _check_metaschema(path: Path, root: Path, document: Any) -> None:
    import jsonschema
    from jsonschema import Draft202012Validator

    try:
        Draft202012Validator.check_schema(document)
    except jsonschema.SchemaError as exc:
        raise SchemaBroken(f"Schema {path.relative_to(root)} is broken: {exc}") from exc


def check_catalog(catalog: Catalog) -> None:
    """Every document obeys the 2020-12 metaschema, and every event schema's references
    name something: the check of a catalog, run by the test suite for ours.

    :raise SchemaBroken: the first document that fails, by file.
    """
    for path in sorted(catalog.root.rglob("*.json")):
        _check_metaschema(path, catalog.root, json.loads(path.read_text(encoding="utf-8")))
    for _, document in catalog.event_files:
        bundle(catalog, document)


def _lookup(catalog: Catalog, uri: str, depth: int) -> tuple[Any, str]:
    """What ``uri`` (a document's ``$id``, maybe with a JSON pointer) names, and its base."""
    if depth > MAX_REF_DEPTH:
        raise SchemaBroken(f"$ref chain deeper than {MAX_REF_DEPTH} at {uri}: a loop?")
    doc_uri, fragment = urldefrag(uri)
    node: Any = catalog.documents.get(doc_uri)
    if node is None:
        raise SchemaBroken(f"$ref {uri!r} names nothing in the catalog ({catalog.root}).")
    if fragment:
        if not fragment.startswith("/"):
            raise SchemaBroken(f"$ref {uri!r}: the catalog's references are JSON pointers (#/$defs/...).")
        for token in fragment[1:].split("/"):
            token = unquote(token).replace("~1", "/").replace("~0", "~")
            try:
                node = node[int(token)] if isinstance(node, list) else node[token]
            except (KeyError, IndexError, ValueError, TypeError):
                raise SchemaBroken(f"$ref {uri!r} names nothing in the catalog ({catalog.root}).") from None
    return node, doc_uri


def resolve(catalog: Catalog, node: Any, base: str, depth: int = 0) -> Any:
    """``node`` with every ``$ref`` replaced by its target; keys beside a ``$ref`` win.

    ``required`` lists are joined rather than replaced, so a shape that adds fields to
    another keeps both lists.
    """
    if isinstance(node, list):
        return [resolve(catalog, item, base, depth) for item in node]
    if not isinstance(node, dict):
        return node
    base = node.get("$id", base) if isinstance(node.get("$id"), str) else base
    out: dict[str, Any] = {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        uri = urljoin(base, ref)
        target, target_base = _lookup(catalog, uri, depth)
        out.update(resolve(catalog, target, target_base, depth + 1))
        for key in ("$id", "$schema", "$defs", "title"):
            out.pop(key, None)
    for key, value in node.items():
        if key == "$ref":
            continue
        if key in ("properties", "$defs") and isinstance(value, dict):
            merged = dict(out.get(key, {}))
            merged.update({name: resolve(catalog, sub, base, depth) for name, sub in value.items()})
            out[key] = merged
        elif key == "required" and isinstance(value, list):
            out[key] = list(dict.fromkeys([*out.get(key, []), *value]))
        else:
            out[key] = resolve(catalog, value, base, depth)
    return out


def _def_name(uri: str) -> str:
    """``…/shapes/guest.v1.json`` -> ``guest.v1``: the name a document gets under ``$defs``."""
    name = uri.rstrip("/").rsplit("/", 1)[-1]
    return name.removesuffix(".json")


def bundle(catalog: Catalog, document: dict[str, Any]) -> dict[str, Any]:
    """One self-contained document: every referenced document copied under ``$defs``.

    References are rewritten to local ones (``#/$defs/guest.v1`` and, for a fragment,
    ``#/$defs/common.v1/$defs/guid``), so any 2020-12 validator or code generator reads
    the result without a registry. Copied documents lose their ``$id`` and ``$schema``,
    which would otherwise move the base URI of what they contain.
    """
    root_uri = document["$id"]
    defs: dict[str, Any] = {}

    def rewrite(node: Any, base: str, depth: int) -> Any:
        if isinstance(node, list):
            return [rewrite(item, base, depth) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                target = urljoin(base, value)
                doc_uri, fragment = urldefrag(target)
                if doc_uri == root_uri:
                    out[key] = f"#{fragment}"
                    continue
                name = _def_name(doc_uri)
                if name not in defs:
                    defs[name] = {}  # claimed first: a document that refers back to itself stops here
                    contents, _ = _lookup(catalog, doc_uri, depth)
                    copied = {k: v for k, v in contents.items() if k not in ("$id", "$schema")}
                    defs[name] = rewrite(copied, doc_uri, depth + 1)
                out[key] = f"#/$defs/{name}{fragment}"
            elif key in ("properties", "$defs") and isinstance(value, dict):
                out[key] = {name: rewrite(sub, base, depth) for name, sub in value.items()}
            else:
                out[key] = rewrite(value, base, depth)
        return out

    result: dict[str, Any] = rewrite(document, root_uri, 0)
    if defs:
        result["$defs"] = {**result.get("$defs", {}), **defs}
    return result
