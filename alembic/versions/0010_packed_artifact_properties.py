"""Long string properties of artifacts compressed, in a column of their own.

An evaluation's ``metrics`` property (the JSON of every slice's metrics, about 3.5 kB a
day in the core benchmark, escaped once more inside the properties JSON) was 43% of
``mlstore_artifact`` at 1,000 days, and spilled onto overflow pages. No query reads
it in SQL: the metric rows hold its values, MLMD the property itself. String
properties of at least 1,024 characters, of any artifact but a Model (whose
properties the compatibility check reads in SQL), move to ``packed`` as
zlib-compressed JSON; reading an artifact joins the two (mlstore/index/writer.py
``split_properties``, queries.py ``joined_properties``).

Revision ID: 0010
Revises: 0009
"""

import json
import zlib

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None
#: Rewrites most of the index: `mlstore db upgrade` runs VACUUM on SQLite after it (migrate.py).
vacuum_after = True

#: As mlstore/index/writer.py's PACK_FROM at this revision.
_PACK_FROM = 1024
_PAGE = 2000

_artifact = sa.table("mlstore_artifact", sa.column("id", sa.BigInteger), sa.column("type", sa.String),
                     sa.column("properties", sa.Text), sa.column("packed", sa.LargeBinary))


def upgrade() -> None:
    op.add_column("mlstore_artifact", sa.Column("packed", sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql"), nullable=True))
    bind = op.get_bind()
    a = _artifact.c
    after = -1
    while True:  # a page at a time by id: a 100,000-day store has 100,000 evaluations
        rows = bind.execute(sa.select(a.id, a.properties).where(
            a.id > after, a.type != "Model", sa.func.length(a.properties) >= _PACK_FROM)
            .order_by(a.id).limit(_PAGE)).all()
        if not rows:
            break
        after = rows[-1].id
        updates = []
        for artifact_id, text in rows:
            props = json.loads(text)
            long = {k: v for k, v in props.items() if isinstance(v, str) and len(v) >= _PACK_FROM}
            if long:
                rest = {k: v for k, v in props.items() if k not in long}
                updates.append({"key": artifact_id, "properties": json.dumps(rest, sort_keys=True),
                                "packed": zlib.compress(json.dumps(long, sort_keys=True).encode(), 6)})
        if updates:
            bind.execute(sa.update(_artifact).where(a.id == sa.bindparam("key"))
                         .values(properties=sa.bindparam("properties"), packed=sa.bindparam("packed")), updates)


def downgrade() -> None:
    bind = op.get_bind()
    a = _artifact.c
    rows = bind.execute(sa.select(a.id, a.properties, a.packed).where(a.packed.is_not(None))).all()
    updates = []
    for artifact_id, text, packed in rows:
        props = {**json.loads(text), **json.loads(zlib.decompress(packed))}
        updates.append({"key": artifact_id, "properties": json.dumps(props, sort_keys=True)})
    if updates:
        bind.execute(sa.update(_artifact).where(a.id == sa.bindparam("key"))
                     .values(properties=sa.bindparam("properties")), updates)
    op.drop_column("mlstore_artifact", "packed")  # SQLite 3.35+ drops an unindexed column in place
