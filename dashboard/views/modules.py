"""Modules: HubModule artifacts by publisher/name, their versions, signatures and consumers."""

from __future__ import annotations

import re

import pandas as pd
import streamlit as st

from mlstore._dashboard import components, data


def _versions(modules) -> pd.DataFrame:
    rows = [{"artifact": m.id, "publisher": m.properties.get("publisher", "?"), "name": m.properties.get("name", "?"),
             "version": m.properties.get("version"), "digest": m.digest, "size": m.size,
             "pipeline": m.pipeline, "created": pd.to_datetime(m.create_time_ms, unit="ms")} for m in modules]
    return pd.DataFrame(rows)


MAX_CONSUMERS = 50  # details are fetched per consumer (~3 ms each, cold); a daily pipeline adds one a day


def _consumers(uri, ver, module_id: int) -> tuple[int, pd.DataFrame]:
    """(number of consuming executions, table of the newest MAX_CONSUMERS of them)."""
    uses = sorted((ev for ev in data.events(uri, ver, f"artifact:{module_id}") if not ev.is_output),
                  key=lambda ev: ev.execution_id, reverse=True)
    rows = []
    for ev in uses[:MAX_CONSUMERS]:
        e = data.execution(uri, ver, f"execution:{ev.execution_id}")
        outputs = [f"artifact:{o.artifact_id}" for o in data.events(uri, ver, f"execution:{e.id}") if o.is_output]
        rows.append({"execution": f"execution:{e.id}", "step": e.type, "pipeline": e.pipeline, "role": ev.role,
                     "outputs": ", ".join(outputs)})
    return len(uses), pd.DataFrame(rows, columns=["execution", "step", "pipeline", "role", "outputs"])


def demote_headings(markdown: str, level: int = 4) -> str:
    """Markdown with every heading at ``level`` or smaller, so a description's ``# Title``
    never outranks the page's own title and headers."""
    return re.sub(r"^(#{1,6})(\s)", lambda m: "#" * max(level, len(m.group(1))) + m.group(2), markdown,
                  flags=re.MULTILINE)


def _signature_rows(signatures) -> pd.DataFrame:
    """One row per signature tensor: signature, direction, name, dtype, shape."""
    rows = []
    for signature, spec in signatures.items() if isinstance(signatures, dict) else []:
        if not isinstance(spec, dict):
            rows.append({"signature": signature, "direction": "", "tensor": "", "dtype": "", "shape": str(spec)})
            continue
        for direction in ("inputs", "outputs"):
            for name, tensor in (spec.get(direction) or {}).items():
                tensor = tensor if isinstance(tensor, dict) else {}
                shape = tensor.get("shape")
                rows.append({"signature": signature, "direction": direction[:-1], "tensor": name,
                             "dtype": tensor.get("dtype", ""),
                             "shape": "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"
                             if isinstance(shape, list) else str(shape or "")})
    return pd.DataFrame(rows, columns=["signature", "direction", "tensor", "dtype", "shape"])


def _tags(properties) -> None:
    """Tags as labels, signatures as a table, licence and trainability as one line: no raw JSON."""
    tags = data.parse_json(properties.get("tags"))
    signatures = data.parse_json(properties.get("signatures"))
    if isinstance(tags, dict):  # older publishers put signatures inside tags
        signatures = signatures or tags.get("signatures")
        tags = [f"{k}: {v}" for k, v in tags.items() if k != "signatures"]
    if isinstance(tags, list) and tags:
        st.markdown("**Tags** " + " ".join(f"`{t}`" for t in tags))
    elif isinstance(tags, str) and tags:
        st.markdown(f"**Tags** `{tags}`")
    facts = []
    if properties.get("license"):
        facts.append(f"licence {properties['license']}")
    if properties.get("trainable") is not None:
        facts.append("trainable" if str(properties["trainable"]) in ("1", "True", "true") else "not trainable")
    if facts:
        st.caption(" · ".join(facts))
    if isinstance(signatures, dict) and signatures:
        st.markdown("**Signatures**")
        table = _signature_rows(signatures)
        if table.empty or (table["tensor"] == "").all():
            st.dataframe(pd.DataFrame({"signature": list(signatures), "spec": [str(v) for v in signatures.values()]}),
                         hide_index=True)
        else:
            st.dataframe(table, hide_index=True)


def render() -> None:
    st.title("Modules")
    uri, ver = components.context()
    modules = data.all_artifacts(uri, ver, "HubModule")
    if not modules:
        st.info("No modules are published in this store yet. Publish a reusable model part as a "
                "HubModule artifact (publisher/name/version); its versions and consumers appear here.")
        return
    table = _versions(modules)
    handles = sorted({f"{r.publisher}/{r.name}" for r in table.itertuples()})
    handle = st.sidebar.selectbox("Module", handles, key="module")
    publisher, name = handle.split("/", 1)
    versions = table[(table["publisher"] == publisher) & (table["name"] == name)].sort_values("version")
    st.header(handle)
    st.dataframe(versions, hide_index=True, width="stretch")
    version = st.selectbox("Version", list(versions["version"])[::-1], key="module_version")
    row = versions[versions["version"] == version].iloc[-1]
    module = next(m for m in modules if m.id == row["artifact"])
    st.subheader(f"{handle}/{version}")
    st.markdown(demote_headings(module.properties.get("description") or "_No description._"))
    _tags(module.properties)
    st.markdown(f"Digest `{module.digest}` · artifact:{module.id}")
    total, consumers = _consumers(uri, ver, module.id)
    shown = f", newest {len(consumers)} shown" if total > len(consumers) else ""
    st.markdown(f"**Consumers** ({total}{shown})")
    if consumers.empty:
        st.caption("No execution has used this version yet.")
    else:
        st.dataframe(consumers, hide_index=True, width="stretch")


with components.guard():
    render()
