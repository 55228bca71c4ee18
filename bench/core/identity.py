"""A curve's identity: which stored rows of a codec are averaged together.

A row's *identity* is its ``codec_hash`` (the codec's name, :meth:`Codec.identity` — library versions,
options, padding, device — and the metrics version; :func:`bench.core.reuse.codec_hash`) with the
``weights_sha256`` of its operating point (learned codecs). Rows of one codec measured under other
settings (another Pillow, ``--padding``, device, a checkpoint retrained at the same path) stay in
``rows.csv`` under their own keys; averaging them together would mix settings without a word.

So every reader uses, per codec, the rows of **one** identity (:func:`current_rows`): by default the
*current* one, that of the codec's most recent row (``run_id`` starts with the UTC time; file order
breaks ties) — its ``codec_hash``, and per point the weights of the latest row of that hash there
(rows without weights, e.g. failed ones, belong to their hash's identity at every point). A user may
name another one by a prefix of its ``codec_hash`` (``chosen``). The other rows are kept, never
averaged, and described per codec (:func:`other_lines`: what differs, from ``runs/*.json`` where they
record it, else the hashes). :func:`identities` lists every identity of every codec;
:func:`check_one_identity` refuses rows that mix identities (where a selection must already have
happened: exports, merged shards); :func:`check_measured_once` refuses an image measured twice
within one identity (a store fault).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from bench.core.errors import BenchError

__all__ = [
    "IDENTITY_COLUMNS", "Identity", "IdentityError", "check_measured_once", "check_one_identity", "current_identities",
    "current_rows", "describe", "differences", "identities", "other_lines", "parse_choice",
]

HASH, WEIGHTS = "codec_hash", "weights_sha256"
_SHOWN = 3  # points named in a description of differing weights, before "…"


class IdentityError(BenchError):
    """Rows of one codec that mix identities where one is required, or an identity that is not there."""


@dataclass(frozen=True)
class Identity:
    """One codec's identity in a dataset's rows: its ``codec_hash`` and, per point, its weights (``""``: none)."""

    dataset: str
    codec: str
    codec_hash: str
    weights: Mapping[str, str]
    run_id: str
    """The latest run among the identity's rows."""


def _text(rows: pd.DataFrame, column: str) -> pd.Series:
    """A column as text, ``""`` where empty or absent."""
    if column not in rows:
        return pd.Series("", index=rows.index, dtype=object)
    return rows[column].fillna("").astype(str)


def _ordered(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with text ``_hash``, ``_weights``, ``_run`` columns, in run order: by the UTC second that starts
    the run id, then file order (rows are appended as measured), so two runs started within one second
    are ordered as they wrote, not by their ids' random suffixes."""
    runs = _text(rows, "run_id")
    frame = rows.assign(_hash=_text(rows, HASH).to_numpy(), _weights=_text(rows, WEIGHTS).to_numpy(),
                        _run=runs.to_numpy(), _started=runs.str.split("-", n=1).str[0].to_numpy())
    return frame.sort_values("_started", kind="stable")


def parse_choice(specs: Iterable[str]) -> dict[str, str]:
    """``CODEC=HASH_PREFIX`` texts (``--identity``) as ``{codec: prefix}``."""
    chosen: dict[str, str] = {}
    for spec in specs:
        codec, sep, prefix = spec.partition("=")
        if not sep or not codec.strip() or not prefix.strip():
            raise IdentityError(f"--identity {spec!r}: expected CODEC=HASH_PREFIX, e.g. jpeg=55b35f6a "
                                "(`python -m bench summary --identities` lists them)")
        chosen[codec.strip()] = prefix.strip()
    return chosen


def _chosen_hash(codec: str, prefix: str, hashes: Iterable[str]) -> str:
    known = sorted(set(hashes))
    matches = [h for h in known if h.startswith(prefix)]
    if len(matches) != 1:
        what = "no" if not matches else "several"
        raise IdentityError(f"--identity {codec}={prefix}: {what} identities of {codec} start with {prefix!r}; "
                            f"its codec hashes: {', '.join(known)} (`python -m bench summary --identities`)")
    return matches[0]


def current_identities(rows: pd.DataFrame, chosen: Mapping[str, str] | None = None) -> dict[tuple[str, str], Identity]:
    """(dataset, codec) → the identity readers use: the latest row's, or the one ``chosen`` names by hash prefix."""
    chosen = dict(chosen or {})
    if rows.empty:
        return {}
    frame = _ordered(rows)
    found: dict[tuple[str, str], Identity] = {}
    for (dataset, codec), group in frame.groupby(["dataset", "codec"], sort=False):
        codec = str(codec)
        if codec in chosen:
            codec_hash = _chosen_hash(codec, chosen.pop(codec), group["_hash"])
        else:
            codec_hash = str(group["_hash"].iloc[-1])
        mine = group[group["_hash"] == codec_hash]
        weights = {}
        for point, at_point in mine.groupby("point", sort=False):
            known = at_point["_weights"][at_point["_weights"] != ""]
            weights[str(point)] = str(known.iloc[-1]) if len(known) else ""
        found[str(dataset), codec] = Identity(str(dataset), codec, codec_hash, weights, str(mine["_run"].iloc[-1]))
    if chosen:
        raise IdentityError(f"--identity: no rows of {', '.join(sorted(chosen))}; codecs in the results: "
                            f"{', '.join(sorted({codec for _, codec in found}))}")
    return found


def _of_identity(rows: pd.DataFrame, current: Mapping[tuple[str, str], Identity]) -> pd.Series:
    """Whether each row belongs to its codec's identity in ``current``."""
    keep = []
    for dataset, codec, point, codec_hash, weights in zip(
            _text(rows, "dataset"), _text(rows, "codec"), _text(rows, "point"), _text(rows, HASH),
            _text(rows, WEIGHTS)):
        identity = current.get((dataset, codec))
        if identity is None:
            keep.append(True)
            continue
        wanted = identity.weights.get(point)
        keep.append(codec_hash == identity.codec_hash and wanted is not None
                    and (not weights or not wanted or weights == wanted))
    return pd.Series(keep, index=rows.index, dtype=bool)


def current_rows(rows: pd.DataFrame, chosen: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(kept, other)``: per codec, the rows of its current identity (:func:`current_identities`), and the
    rows of other settings (kept in the store, never averaged). Both keep the rows' order."""
    if rows.empty or (HASH not in rows and WEIGHTS not in rows):
        return rows, rows.iloc[:0]
    mask = _of_identity(rows, current_identities(rows, chosen))
    if mask.all():
        return rows, rows.iloc[:0]
    return rows[mask].reset_index(drop=True), rows[~mask].reset_index(drop=True)


def check_one_identity(rows: pd.DataFrame, what: str = "rows") -> None:
    """Refuse ``rows`` in which a codec has rows of more than one identity (one line naming the codec and what differs)."""
    kept, other = current_rows(rows)
    if other.empty:
        return
    codec = str(other["codec"].iloc[0])
    raise IdentityError(f"{what} mix settings of {codec}: {len(other)} rows of another identity than its latest "
                        f"({describe(other[other['codec'] == codec], current_identities(rows), {})}); "
                        "select one identity first (bench.core.identity.current_rows, as every command does)")


def check_measured_once(rows: pd.DataFrame) -> None:
    """Refuse rows where one identity has two successful rows of one image at one point (a store fault)."""
    ok = rows[rows["status"] == "ok"].assign(_hash=_text(rows, HASH), _weights=_text(rows, WEIGHTS))
    columns = ["dataset", "codec", "point", "image", "_hash", "_weights"]
    twice = ok.duplicated(columns, keep=False)
    if not twice.any():
        return
    first = ok[twice].iloc[0]
    keys = ok[twice & (ok[columns] == first[columns]).all(axis=1)]["key"].astype(str) if "key" in ok else []
    raise IdentityError(
        f"the results hold {int(twice.sum())} rows of images measured twice with the same settings (first: "
        f"{first['image']} × {first['codec']} × {first['point']}, codec hash {first['_hash']}, keys "
        f"{', '.join(keys) or 'unknown'}): a store fault, not a change of settings; keep one of the rows of each "
        "such key pair in rows.csv (`python -m bench verify` checks the one kept)")


# --- what differs ---------------------------------------------------------------------------------


def _recorded(runs: Mapping[str, Mapping[str, Any] | None], codec: str, codec_hash: str) -> Mapping[str, Any] | None:
    """The latest run's record of ``codec`` under ``codec_hash`` (``codecs.<codec>`` of a run file), if any."""
    found = None
    for run_id in sorted(runs):
        entry = ((runs[run_id] or {}).get("codecs") or {}).get(codec)
        if isinstance(entry, Mapping) and entry.get("hash") == codec_hash:
            found = entry
    return found


def _value(value: Any) -> str:
    return "—" if value is None else str(value)


def differences(codec: str, old_hash: str, new_hash: str, runs: Mapping[str, Mapping[str, Any] | None]) -> str:
    """What differs between two codec hashes of ``codec`` (``key old → new``, from the runs' recorded identities),
    or the hashes where the run files do not tell."""
    old, new = _recorded(runs, codec, old_hash), _recorded(runs, codec, new_hash)
    if old is not None and new is not None:
        a, b = dict(old.get("identity") or {}), dict(new.get("identity") or {})
        changed = [f"{key} {_value(a.get(key))} → {_value(b.get(key))}"
                   for key in [*a, *(k for k in b if k not in a)] if a.get(key) != b.get(key)]
        if changed:
            return ", ".join(changed)
    return f"codec hash {old_hash or '—'} → {new_hash or '—'}"


def _weights_change(codec_rows: pd.DataFrame, identity: Identity) -> str:
    """The points whose other rows have other weights than ``identity``'s, with both hashes shortened."""
    changes = []
    for point, group in codec_rows.groupby("point", sort=False):
        for weights in sorted(set(group["_weights"]) - {""}):
            wanted = identity.weights.get(str(point), "")
            changes.append(f"weights of {point} {weights[:8] or '—'} → {wanted[:8] or '—'}")
    shown = changes[:_SHOWN] + (["…"] if len(changes) > _SHOWN else [])
    return ", ".join(shown)


def describe(other: pd.DataFrame, current: Mapping[tuple[str, str], Identity],
             runs: Mapping[str, Mapping[str, Any] | None]) -> str:
    """What differs between one codec's ``other`` rows and its current identity, in a few words."""
    frame = _ordered(other)
    dataset, codec = str(frame["dataset"].iloc[0]), str(frame["codec"].iloc[0])
    identity = current.get((dataset, codec))
    if identity is None:
        return "no current identity"
    parts = []
    for codec_hash, group in frame.groupby("_hash", sort=False):
        if codec_hash != identity.codec_hash:
            parts.append(differences(codec, str(codec_hash), identity.codec_hash, runs))
        else:
            parts.append(_weights_change(group, identity))
    return "; ".join(dict.fromkeys(p for p in parts if p)) or "another identity"


def other_lines(rows: pd.DataFrame, other: pd.DataFrame, runs: Mapping[str, Mapping[str, Any] | None],
                chosen: Mapping[str, str] | None = None) -> list[str]:
    """One line per codec with rows of other settings: how many, kept and not averaged, and what differs.

    ``rows`` are all the rows (to find the current identities), ``other`` those :func:`current_rows` left out.
    """
    if other.empty:
        return []
    current = current_identities(rows, chosen)
    lines = []
    for codec, group in other.groupby("codec", sort=True):
        count = len(group)
        lines.append(f"{codec}: {count} row{'s' if count != 1 else ''} of other settings kept, not averaged "
                     f"(differs: {describe(group, current, runs)})")
    return lines


IDENTITY_COLUMNS = ("codec", "codec_hash", "weights", "current", "rows", "images", "runs", "latest_run", "differs")
"""Columns of :func:`identities`: ``weights`` is ``current`` (the identity's weights at each point), ``other``
(rows of the current hash with other weights) or empty (no weights recorded)."""


def identities(rows: pd.DataFrame, runs: Mapping[str, Mapping[str, Any] | None],
               chosen: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Every identity of every codec in ``rows``: one line per codec × codec hash (× other weights), the
    current one first, with its rows, images, runs, latest run and what differs from the current one."""
    if rows.empty:
        return pd.DataFrame(columns=list(IDENTITY_COLUMNS))
    current = current_identities(rows, chosen)
    frame = _ordered(rows)
    frame = frame.assign(_current=_of_identity(frame, current).to_numpy())
    lines = []
    for (dataset, codec), group in frame.groupby(["dataset", "codec"], sort=True):
        identity = current[str(dataset), str(codec)]
        parts = []
        for (codec_hash, is_current), part in group.groupby(["_hash", "_current"], sort=False):
            if is_current:
                weights, differs = ("current" if (part["_weights"] != "").any() else ""), ""
            else:
                same_hash = codec_hash == identity.codec_hash
                weights = "other" if same_hash else ("" if (part["_weights"] == "").all() else "other")
                differs = describe(part.drop(columns=["_hash", "_weights", "_run", "_started", "_current"]), current, runs)
            parts.append({
                "codec": str(codec), "codec_hash": str(codec_hash), "weights": weights, "current": bool(is_current),
                "rows": len(part), "images": int(part["image"].nunique()) if "image" in part else 0,
                "runs": int(part["_run"].nunique()), "latest_run": str(part["_run"].iloc[-1]), "differs": differs,
            })
        lines += sorted(parts, key=lambda line: (not line["current"], line["latest_run"]))
    return pd.DataFrame(lines, columns=list(IDENTITY_COLUMNS))
