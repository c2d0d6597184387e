"""Making an earlier mlstore release's MLMD types TFX's own (``mlstore db tfx-types``).

Releases before this one registered TFX's artifact types (``Model``, ``ModelBlessing``,
``Examples``...) with mlstore's fields as extra *type* properties. TFX then does not
recognise the types as its own (its resolvers reject such a ``Model``) and reads
``blessed`` only as a custom property. MLMD's API cannot drop a type property, so this
rewrites MLMD's tables directly, in one transaction: each extra type property becomes a
custom property on every artifact of the type (same name, same value), then leaves the
type. Nothing else changes; mlstore reads both layouts alike, so the index stays valid.

Run it while nothing writes to the store (it is refused on a type mlstore did not
create: a property it does not know is left alone, and such a type is reported).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from mlstore import errors, schema
from mlstore._uri import StoreLocation
from mlstore.tfx.records import STANDARD_ARTIFACT_TYPES

_ARTIFACT_TYPE_KIND = 1  # MLMD's Type.type_kind of artifact types
_KIND_CODES = {"INT": 1, "DOUBLE": 2, "STRING": 3}


@dataclass(frozen=True)
class TypeRewrite:
    """One artifact type's rewrite: properties moved to custom properties, artifacts touched."""

    type_name: str
    moved: tuple[str, ...]
    artifacts: int


def mlmd_engine(location: StoreLocation, index_engine: Engine) -> Engine:
    """An SQLAlchemy engine on the MLMD database itself."""
    if location.mlmd_file is not None:
        return create_engine(f"sqlite:///{location.mlmd_file}")
    return index_engine  # MLMD and the index share the server database


def rewrite_types(engine: Engine, dry_run: bool = False) -> list[TypeRewrite]:
    """Moves mlstore's extra type properties of TFX-named artifact types to custom properties.

    Raises:
        FailedPrecondition: a type has a property neither TFX nor mlstore defines, a TFX
            property of another kind, or an artifact already has a custom property of the
            same name with another value; nothing is changed then.
    """
    plans = []
    with engine.begin() as connection:
        types = connection.execute(text("SELECT id, name FROM Type WHERE type_kind = :kind"),
                                   {"kind": _ARTIFACT_TYPE_KIND}).all()
        for type_id, name in types:
            if name not in STANDARD_ARTIFACT_TYPES:
                continue
            declared = dict(connection.execute(
                text("SELECT name, data_type FROM TypeProperty WHERE type_id = :t"), {"t": type_id}).all())
            wanted = STANDARD_ARTIFACT_TYPES[name]
            extra = sorted(set(declared) - set(wanted))
            if not extra:
                continue
            ours = schema.ARTIFACT_TYPES[name].all_properties() if name in schema.ARTIFACT_TYPES else {}
            foreign = [p for p in extra if p not in ours]
            wrong = [p for p in wanted if p in declared and declared[p] != _KIND_CODES[wanted[p]]]
            if foreign or wrong:
                raise errors.FailedPrecondition(
                    f"type {name} has properties mlstore did not create ({', '.join(foreign or wrong)}); "
                    "left unchanged: rewrite it with the tool of the writer that made it")
            clashes = connection.execute(text(
                "SELECT COUNT(*) FROM ArtifactProperty p JOIN Artifact a ON a.id = p.artifact_id "
                "JOIN ArtifactProperty c ON c.artifact_id = p.artifact_id AND c.name = p.name "
                "AND c.is_custom_property = 1 WHERE a.type_id = :t AND p.is_custom_property = 0"),
                {"t": type_id}).scalar()
            if clashes:
                raise errors.FailedPrecondition(
                    f"{clashes} artifact(s) of type {name} have a custom and a type property of one name; "
                    "nothing was changed")
            count = connection.execute(text("SELECT COUNT(*) FROM Artifact WHERE type_id = :t"),
                                       {"t": type_id}).scalar()
            plans.append((type_id, TypeRewrite(name, tuple(extra), int(count))))
        if dry_run:
            connection.rollback()
            return [plan for _, plan in plans]
        for type_id, plan in plans:
            for prop in plan.moved:
                connection.execute(text(
                    "UPDATE ArtifactProperty SET is_custom_property = 1 WHERE name = :p AND is_custom_property = 0 "
                    "AND artifact_id IN (SELECT id FROM Artifact WHERE type_id = :t)"), {"p": prop, "t": type_id})
                connection.execute(text("DELETE FROM TypeProperty WHERE type_id = :t AND name = :p"),
                                   {"t": type_id, "p": prop})
    return [plan for _, plan in plans]
