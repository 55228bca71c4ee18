"""The evaluator: every image × codec × operating point becomes one result row.

Rows go to :class:`bench.core.store.ResultStore` as soon as they are measured, keyed
by everything that produced them, so a rerun only measures what is missing.
With ``jobs`` > 1 a codec's rows go by batches: their calls are made and timed in
this process alone, then their reconstructions are scored in ``jobs`` processes
(:mod:`bench.core.scoring`) while nothing is timed; so every core works and no
timed call ever shares the machine with the run's other work.
"""

from __future__ import annotations

import inspect
import itertools
import logging
import secrets
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.core import environment, registry
from bench.core.codec import Codec, Coder
from bench.core.datasets import Dataset
from bench.core.errors import BenchError, CodecError, one_line
from bench.core.metric_registry import plugin_of, resolve_metrics
from bench.core.manifest import Manifest, check_same_dataset, read_manifest, write_manifest
from bench.core.measure import (Coded, Reference, code_row, measure_row, metrics_label, quality, reference_of,
                                score_row)
from bench.core.estimate import unit_seconds
from bench.core.progress import CodecUnits, RunProgress
from bench.core.schema import GENERIC, RUNS_FORMAT, SchemaError, declared_columns, run_json
from bench.core.store import ResultStore, refuse_links, write_text_atomic
from bench.core.reuse import (LATER_QUALITY, METRICS_VERSION, Action, codec_hash, lacks_metrics, lacks_quality, legacy_row_key,
                              reuse_rule, row_key)
from bench.core.screening import PreparedImage, Screening, Unusable, prepare_images
from bench.core.sampling import repeatability_sample
from bench.core.scoring import Scores, ScoreTask, ScoringPool, split_tasks
from bench.core.tasks import CodecRun, Row, Settings, artifact_path, time_row, warm_up
from bench.core.timing import WarmUps, is_noisy, relative_spread
from bench.core.trace import span

log = logging.getLogger(__name__)



EXECUTORS = ("local", "dask")

AfterRow = Callable[[str, PreparedImage, dict[str, Any], Reference], None]
"""Called by a sequential RD pass after each row is stored: its point, image, row and MS-SSIM reference."""


def in_shard(index: int, shard: tuple[int, int] | None) -> bool:
    """Whether task ``index`` of a run's task list (codecs × images × points, in the order given) is in
    ``shard`` ``(i, n)``: every n-th task from the i-th (1-based), so each share mixes codecs and points."""
    return shard is None or index % shard[1] == shard[0] - 1


@dataclass
class RunReport:
    run_id: str
    results_dir: Path
    rows: pd.DataFrame
    summary: pd.DataFrame = field(default_factory=pd.DataFrame)  #: filled by :func:`bench.pipeline.evaluate`
    measured: int = 0  #: rows measured now (their RD values, and their times unless derived)
    timed: int = 0  #: stored rows whose RD values were kept and whose times were taken again
    reused: int = 0  #: stored rows kept as they are
    stale: int = 0  #: rows of images no longer in the dataset (kept, not averaged; set by the pipeline)
    #: per codec with rows of other settings than its identity's (kept, not averaged; set by the pipeline)
    other_notes: list[str] = field(default_factory=list)
    unusable: tuple[Unusable, ...] = ()  #: files of the dataset that were not measured
    recomputed: int = 0  #: of ``measured``: stored rows of another host, recomputed (see :func:`reuse_rule`)
    scored: int = 0  #: stored rows whose later quality columns were filled (:attr:`bench.core.reuse.Action.SCORE`)
    reasons: dict[str, int] = field(default_factory=dict)  #: why rows were reused, re-timed or measured
    noisy: list[str] = field(default_factory=list)
    """Rows timed now whose encode or decode spread (several values) exceeds 10 % of the median ("codec point image: …")."""
    derived: int = 0  #: of ``measured``: rows whose RD values came from the codec's derivation (no times)
    derivation: list[str] = field(default_factory=list)  #: per codec, what its derivation check found
    timed_now: int = 0  #: rows whose timings were taken in this run
    repeated_now: int = 0  #: of ``timed_now``: rows with several values, hence a spread (the denominator of ``noisy``)


DERIVATION_CHECKED = ("bytes", "bpp", "psnr", "ms_ssim", "ms_ssim_db", "psnr_y", "psnr_u", "psnr_v", "psnr_yuv",
                      "payload_bytes", "bpp_estimated", "status", "width", "height")
"""The row values a derivation must give exactly as the codec's own coder (beside the bitstream's bytes)."""


def _derivation_differs(coder: Coder, own: Mapping[str, Any], deriver: Coder, derived: Mapping[str, Any]) -> str | None:
    """How a derived row differs from the codec's own row of the same image and point (None: it does not)."""
    mine, theirs = getattr(coder, "last_bitstream", None), getattr(deriver, "last_bitstream", None)
    if mine is None or mine != theirs:
        lengths = f"{len(mine) if mine else 0} and {len(theirs) if theirs else 0} bytes"
        return f"bitstreams differ ({lengths})"
    for column in DERIVATION_CHECKED:
        if own.get(column) != derived.get(column):
            return f"{column} {own.get(column)!r} by the codec, {derived.get(column)!r} derived"
    return None


def _plugin_file(codec: Codec) -> str:
    """The plug-in file that registered ``codec`` (its class's file for a codec built in Python)."""
    try:
        return registry.entry(codec.name).plugin
    except CodecError:
        return inspect.getsourcefile(type(codec)) or type(codec).__module__


BATCH_BYTES = 256 * 2**20
"""Bytes of reconstructions a batch of :meth:`Evaluation._rd_batched` holds at most (one row always)."""


def _batches(rows: list[Row], images: int) -> Iterator[list[Row]]:
    """``rows`` (in order) by batches of the rows of ``images`` consecutive images, each batch's
    reconstructions within :data:`BATCH_BYTES`."""
    batch: list[Row] = []
    seen: set[str] = set()
    held = 0
    for row in rows:
        size = row.image.pixels.nbytes
        new_image = row.image.sha256 not in seen
        if batch and ((new_image and len(seen) == images) or held + size > BATCH_BYTES):
            yield batch
            batch, seen, held = [], set(), 0
        batch.append(row)
        seen.add(row.image.sha256)
        held += size
    if batch:
        yield batch


# --- the run ----------------------------------------------------------------------------------


class Evaluation:
    """One invocation: measure what is missing for a dataset and a list of codec runs."""

    def __init__(self, dataset: Dataset, runs: Sequence[CodecRun], results_dir: str | Path,
                 settings: Settings = Settings(), metadata: Mapping[str, Any] | None = None,
                 screening: Screening | None = None) -> None:
        self.dataset = dataset
        self.screening = screening  #: :func:`prepare_images` of the dataset; done by :meth:`check` if not given
        self._manifest: Manifest | None = None
        self.metadata = dict(metadata or {})
        self.runs = list(runs)
        self.settings = settings
        self.dir = Path(results_dir) / dataset.name
        self.store = ResultStore(self.dir / "rows.csv")
        self.run_id = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3)
        self.report = RunReport(self.run_id, self.dir, pd.DataFrame())
        self._measured_now: set[str] = set()  #: keys of rows measured in this run, then timed in a pass of their own
        self._coder_cache: dict[int, dict[str, Coder]] = {}
        self._allowed: dict[int, frozenset[str]] = {}
        self._hardware: dict[str, Any] | None = None
        self._hosts: dict[str, dict[str, Any]] = {}
        self._progress = RunProgress(0, enabled=False)
        self._cluster: Any = None  #: the :class:`bench.core.cluster.DaskExecutor` while a Dask run is on
        self._pool: ScoringPool | None = None  #: the scoring processes of a local run with jobs > 1
        self._sample: frozenset[str] = frozenset()  #: pixel hashes of the repeatability sample's images
        self._sample_names: tuple[str, ...] = ()
        self._checked: frozenset[str] = frozenset()  #: images whose rows check a derivation (the same sample)
        self._warmed: dict[int, WarmUps] = {}  #: per codec run, the warm-ups done for its rows measured here
        self.metrics = resolve_metrics(settings.metrics)  #: the plug-in metrics every row of the run is scored by
        self._metric_versions = {metric.name: metric.version for metric in self.metrics}

    def _bar(self, total: int, desc: str):
        """A stage's progress bar (each step also advances the whole run's line)."""
        return self._progress.stage(total, desc)

    def _base(self, run: CodecRun, chash: str, point: str, coder_identity: Mapping[str, Any],
              fields: Mapping[str, Any], image: PreparedImage) -> dict[str, Any]:
        self._check_columns(run, point, fields)
        return {
            "key": row_key(chash, point, coder_identity, image.sha256, image.name),
            "run_id": self.run_id,
            "dataset": self.dataset.name,
            "image": image.name,
            "image_sha256": image.sha256,
            "conversion": image.conversion,
            "codec": run.codec.name,
            "point": point,
            "codec_hash": chash,
            "threads": self._threads(),
            "allocator": self.settings.allocator,
            "host": self._host(fields),
            "timing_sampled": "" if self.settings.repeats is not None else int(image.sha256 in self._sample),
            **fields,
        }

    def _check_columns(self, run: CodecRun, point: str, row: Mapping[str, Any]) -> None:
        """Refuse a column the codec fills without declaring it in ``Codec.columns`` (one line, no traceback)."""
        codec = run.codec
        if id(run) not in self._allowed:
            try:
                declared = declared_columns(codec.columns)
            except SchemaError as exc:
                raise CodecError(f"{_plugin_file(codec)}: codec {codec.name!r} {exc}") from None
            self.store.declare(column for column in declared if column.name not in GENERIC)
            self._allowed[id(run)] = (frozenset(GENERIC) | {column.name for column in declared}
                                      | self._metric_columns())
        undeclared = sorted(set(row) - self._allowed[id(run)])
        if undeclared:
            raise CodecError(f"{_plugin_file(codec)}: codec {codec.name!r} (point {point}) fills undeclared "
                             f"column(s) {', '.join(undeclared)}; declare it in Codec.columns (a name of "
                             "bench.core.schema.CODEC_FILLED, or a bench.core.schema.Column for a new column)")

    def _host(self, fields: Mapping[str, Any], hardware: Mapping[str, Any] | None = None,
              threads: int | None = None, allocator: str | None = None) -> str:
        """The host of a row with codec-filled ``fields``: the hash of the fingerprint of the machine
        (``hardware``, by default this one, or a Dask run's first timing worker) with the row's device
        (``cpu`` unless the codec fills one), torch threads and heap policy (by default this run's)."""
        if hardware is None:
            if self._hardware is None:
                self._hardware = self._cluster.hardware[0] if self._cluster else environment.machine()
            hardware = self._hardware
        fingerprint = environment.fingerprint(
            device=str(fields.get("device") or "cpu"), threads=self._threads() if threads is None else threads,
            allocator=allocator or self.settings.allocator, hardware=hardware)
        host = environment.host_id(fingerprint)
        self._hosts[host] = fingerprint
        return host

    def _rule_host(self, existing: Mapping[str, str] | None, base: Mapping[str, Any],
                   fields: Mapping[str, Any]) -> str:
        """The host :func:`reuse_rule` compares a stored row with: the stored row's own when it is one of
        the machines that take timings in this run (a Dask cluster has several), else ``base``'s."""
        stored = (existing or {}).get("host") or ""
        if stored and self._cluster and stored in {self._host(fields, hardware) for hardware in self._cluster.hardware}:
            return stored
        return base["host"]

    def _note_noise(self, codec: str, point: str, image: str, row: Mapping[str, Any]) -> None:
        if row.get("encode_s") is not None:
            self.report.timed_now += 1
            self.report.repeated_now += row.get("encode_spread_s") is not None
        parts = []
        for side in ("encode", "decode"):
            median, spread = row.get(f"{side}_s"), row.get(f"{side}_spread_s")
            if is_noisy(median, spread):
                parts.append(f"{side} {100 * relative_spread(median, spread):.0f} %")
        if parts:
            self.report.noisy.append(f"{codec} {point} {image}: {', '.join(parts)}")

    def _threads(self) -> int:
        if "torch" in sys.modules:
            return sys.modules["torch"].get_num_threads()
        return self.settings.threads

    def _write_metadata(self, status: str, started: str) -> None:
        codecs = {
            run.codec.name: {
                "hash": codec_hash(run.codec), "identity": run.codec.identity(),
                "points": list(run.points), "description": run.codec.describe(),
                "options": dict(run.codec.options),  # resolved; `verify` rebuilds the codec from them
                "point_details": {point: {**coder.identity(), **coder.provenance(), **coder.row_fields()}
                                  for point, coder in self._coders(run).items()},
            }
            for run in self.runs
        }
        for run in self.runs:
            for coder in self._coders(run).values():
                self._host(coder.row_fields())
        meta = {
            "format_version": RUNS_FORMAT,
            "run_id": self.run_id,
            "status": status,
            "started": started,
            "command": sys.argv,
            "dataset": {**(self._manifest or self.check()).to_json(), "images": len(self.dataset.items),
                        **({"subset": list(self.settings.images)} if self.settings.images is not None else {})},
            "codecs": codecs,
            "settings": {"jobs": self.settings.jobs, "timing_repeats": self.settings.repeats,
                         "timing": self.settings.timing.name, "repeatability_sample": sorted(self._sample_names),
                         "threads": self._threads(), "allocator": self.settings.allocator,
                         "metrics_version": METRICS_VERSION,
                         "metrics": {metric.name: {"version": metric.version, "identity": metric.identity(),
                                                   "plugin": plugin_of(metric.name)} for metric in self.metrics}},
            **self.metadata,
            "rows": {"measured": self.report.measured, "timed": self.report.timed, "reused": self.report.reused,
                     "recomputed": self.report.recomputed, "scored": self.report.scored},
            "environment": {**environment.collect(), "hosts": dict(self._hosts)},
        }
        path = self.dir / "runs" / f"{self.run_id}.json"
        refuse_links(path, within=self.dir)
        write_text_atomic(path, run_json(meta))

    def check(self) -> Manifest:
        """Screen every file and check the dataset's identity, before anything is written; returns its manifest.

        Raises :class:`DatasetError` when no file is usable, when ``settings.strict`` and one is not
        (each lists every unusable file), or when the results folder holds another dataset of this name
        (:func:`bench.core.manifest.check_same_dataset`). The files are screened once; the identity is
        checked at each call (the run checks it again under the folder's lock).
        """
        if self.screening is None:
            self.screening = prepare_images(self.dataset)
        refusal = self.screening.refusal(strict=self.settings.strict)
        if refusal is not None:
            raise refusal
        manifest = self.screening.manifest()
        check_same_dataset(read_manifest(self.dir), manifest, self.dir.parent)
        self.report.unusable = self.screening.unusable
        return manifest

    def run(self) -> RunReport:
        """Measure every missing row; safe to interrupt at any point (finished rows are on disk).

        The dataset's manifest becomes the results folder's current one before any row is measured.
        The run is the folder's only writer (:meth:`ResultStore.locked`): it waits for another run
        (``settings.wait``) and refuses a folder it cannot write, before anything is measured.
        """
        with self.store.locked(timeout=self.settings.wait):
            return self._run()

    def _run(self) -> RunReport:
        import torch

        self._manifest = self.check()
        write_manifest(self.dir, self._manifest)
        self.store.declare(column for metric in self.metrics for column in metric.columns)
        previous_threads = torch.get_num_threads()
        torch.set_num_threads(self.settings.threads)
        started = environment.utc_now()
        self._write_metadata("running", started)
        status, failed = "interrupted", False
        try:
            with self._executor(), self._scoring():
                subset = self.settings.images
                images = [image for image in self.screening.images if subset is None or image.name in subset]
                first, plans = 0, []
                # drawn from the whole dataset, so a subset run samples the same images as a full one
                sample = repeatability_sample(self.screening.images)
                self._checked = frozenset(image.sha256 for image in sample)
                if self.settings.repeats is None:  # a fixed number of repeats times every row alike
                    self._sample = self._checked
                    self._sample_names = tuple(image.name for image in sample)
                for run in self.runs:
                    plans.append((run, *self._plan(run, images, first)))
                    first += len(images) * len(run.points)
                units = [len(missing) + len(untimed) + len(unscored) for run, missing, untimed, unscored in plans]
                priors = unit_seconds(self.store.frame(), self.settings.timing) if self.settings.progress else {}
                plan = [CodecUnits(run.codec.name, n, priors.get(run.codec.name)) for (run, *_), n in zip(plans, units)]
                self._progress = RunProgress(sum(units), enabled=self.settings.progress, codecs=len(plans), plan=plan)
                try:
                    for run, missing, untimed, unscored in plans:
                        self._progress.next_codec()
                        self._run_codec(run, images, missing, untimed, unscored)
                finally:
                    self._progress.close()
            status = "complete"
        except BaseException as exc:
            failed = True
            if not isinstance(exc, KeyboardInterrupt):  # Ctrl-C and SIGTERM (the CLI's) stay "interrupted"
                status = "failed"
            raise
        finally:
            try:
                self._finish(status, started, quiet=failed)  # the run's hosts: under the run's thread count
            finally:
                torch.set_num_threads(previous_threads)
        return self.report

    def _finish(self, status: str, started: str, *, quiet: bool) -> None:
        """Compact the rows and record the run's ``status``. ``quiet`` (the run is stopping on an exception,
        which says what happened): a write that fails here (the disk still full) is logged at DEBUG only,
        so that exception stays the one message; the rows on disk are whole either way."""
        steps = (self.store.compact, lambda: self._write_metadata(status, started),
                 lambda: setattr(self.report, "rows", self.store.frame()))
        for step in steps:
            try:
                step()
            except (OSError, BenchError) as exc:
                if not quiet:
                    raise
                log.debug("while stopping the run: %s", one_line(exc))

    @contextmanager
    def _executor(self) -> Iterator[None]:
        """Connect to (or start) the Dask cluster for the run when ``settings.executor`` is ``dask``."""
        if self.settings.executor == "local":
            yield
            return
        from bench.core.cluster import DaskExecutor  # dask is imported only for a Dask run

        with DaskExecutor.open(self.settings) as cluster:
            self._cluster, self._hardware = cluster, None
            try:
                yield
            finally:
                self._cluster = None

    @contextmanager
    def _scoring(self) -> Iterator[None]:
        """The scoring processes of a local run with ``jobs`` > 1 (:class:`ScoringPool`), for the whole run."""
        if self._cluster is not None or self.settings.jobs < 2:
            yield
            return
        codecs = [run.codec for run in self.runs]
        with ScoringPool(self.settings.jobs, self.settings.trace, self.settings.metrics, codecs) as pool:
            self._pool = pool
            try:
                yield
            finally:
                self._pool = None

    def _coders(self, run: CodecRun) -> dict[str, Coder]:
        """One coder per operating point, built once per run (learned codecs load weights here)."""
        key = id(run)
        if key not in self._coder_cache:
            self._coder_cache[key] = {point: run.codec.coder(point) for point in run.points}
        return self._coder_cache[key]

    def _plan(self, run: CodecRun, images: list[PreparedImage], first: int = 0
              ) -> tuple[list[Row], list[Row], list[Row]]:
        """The rows of ``run`` to measure, those to time again and those to score again (:func:`reuse_rule`);
        counts the reused. ``run``'s tasks are numbered from ``first`` in the run's task list (``--shard``)."""
        codec = run.codec
        chash = codec_hash(codec)
        coders = self._coders(run)
        missing: list[Row] = []
        untimed: list[Row] = []
        unscored: list[Row] = []
        for number, (image, (point, coder)) in enumerate(itertools.product(images, coders.items()), first):
            if not in_shard(number, self.settings.shard):
                continue
            base = self._base(run, chash, point, coder.identity(), coder.row_fields(), image)
            existing = self._stored(base, legacy_row_key(chash, point, coder.identity(), image.sha256))
            action, reason = reuse_rule(existing, self._rule_host(existing, base, coder.row_fields()),
                                        codec.deterministic_across_hosts, self.settings.repeats,
                                        sampled=base["timing_sampled"] == 1, metrics=self._metric_versions)
            if action != Action.MEASURE and existing is not None and existing.get("derived"):
                if not self.settings.derive:
                    action = Action.MEASURE
                    reason = "measured by the codec's own coder (stored row derived; --derive off)"
                elif action == Action.TIME:  # a derived row has no times by design: its codec's sample has them
                    action, reason = Action.REUSE, "reused as stored (derived rows are not timed)"
            self.report.reasons[reason] = self.report.reasons.get(reason, 0) + 1
            if action == Action.MEASURE:
                missing.append(Row(point, image, base))
                if existing is not None and existing["status"] == "ok":
                    self.report.recomputed += 1
            elif action == Action.TIME:
                untimed.append(Row(point, image, {**existing, "run_id": self.run_id, "host": base["host"],
                                                  "timing_sampled": base["timing_sampled"]}))
                if lacks_metrics(existing, self._metric_versions):  # scored first, then timed
                    unscored.append(Row(point, image, base))
            elif action == Action.SCORE:
                unscored.append(Row(point, image, base))
            else:
                self.report.reused += 1
        return missing, untimed, unscored

    def _run_codec(self, run: CodecRun, images: list[PreparedImage], missing: list[Row], untimed: list[Row],
                   unscored: list[Row]) -> None:
        codec = run.codec
        coders = self._coders(run)
        again = self._score_rows(run, coders, unscored)
        for task in untimed:  # what the score pass added to a row timed now
            stored = self.store.get(task.fields["key"]) or {}
            task.fields.update({k: v for k, v in stored.items() if k == "metrics" or k in self._metric_columns()})
        if again:  # rows whose stored bitstream was not the codec's: measured now, beyond the planned total
            missing += again
            self._progress.grow(len(again))
        if not missing and not untimed:
            log.info("%s: all %d rows already measured", codec.name, len(images) * len(coders))
            return
        if self._cluster is not None:
            self._run_on_cluster(run, images, missing, untimed)
            return
        missing = self._derive(run, coders, missing)
        if self._pool is not None and len(missing) > 1:
            self._rd_batched(run, coders, missing)
        else:
            self._rd_sequential(run, coders, missing)
        self._time_rows(run, coders, untimed)

    def _run_on_cluster(self, run: CodecRun, images: list[PreparedImage],
                        missing: list[Row], untimed: list[Row]) -> None:
        """The RD pass of every missing row on the Dask workers, then the timings (``timing=1`` per machine);
        each row is appended here, by this process alone, as its task completes."""
        codec = run.codec
        by_name = {image.name: image for image in images}
        with self._bar(len(missing), f"{codec.name} (RD, Dask)") as bar:
            for base, row in self._cluster.rd_rows(run, missing):
                self._check_columns(run, base["point"], row)
                self.store.append({**base, **row})
                self.report.measured += 1
                self._measured_now.add(base["key"])
                if row["status"] == "ok":
                    untimed.append(Row(base["point"], by_name[base["image"]], {**base, **row}))
                bar.update()
        with self._bar(len(untimed), f"{codec.name} (timing, Dask)") as bar:
            for task, (update, taken) in self._cluster.timings(run, untimed):
                host = self._host(task.fields, taken["hardware"], taken["threads"], taken["allocator"])
                self._store_timing(codec.name, task, update,
                                   threads=taken["threads"], allocator=taken["allocator"], host=host)
                bar.update()

    def _store_timing(self, codec: str, task: Row, update: dict[str, Any], **conditions: Any) -> None:
        """Append ``task``'s row with the timing columns of :func:`time_row` and the ``conditions`` they were
        taken under (threads, allocator, host); a failed timing keeps the row's conditions."""
        row = task.fields
        if "encode_s" not in update:
            self.store.append({**row, **update})
            return
        update = {**update, **conditions}
        self.store.append({**{k: row[k] for k in row if k in self.store.columns}, **update})
        if row["key"] not in self._measured_now:  # a row measured now is counted once, as measured
            self.report.timed += 1
        self._note_noise(codec, task.point, task.image.name, update)

    def _stored(self, base: dict[str, Any], legacy_key: str) -> dict[str, str] | None:
        """The stored row of ``base``'s measurement, if any.

        A row written before keys held the file name is found by ``legacy_key`` when it holds this
        image's name; ``base`` then takes that key, so reuse, timing and retries keep one row.
        """
        existing = self.store.get(base["key"])
        if existing is None:
            legacy = self.store.get(legacy_key)
            if legacy is not None and legacy["image"] == base["image"]:
                base["key"] = legacy_key
                return legacy
        return existing

    def _metric_columns(self) -> set[str]:
        return {column.name for metric in self.metrics for column in metric.columns}

    def _remake(self, run: CodecRun, coder: Coder, task: Row, stored: Mapping[str, str]
                ) -> tuple[np.ndarray | None, dict[str, Any], str | None]:
        """A stored row's reconstruction made again, untimed: read from the run's reconstructions folder,
        else decoded from its bitstreams folder, else encoded and decoded; with the codec-filled columns the
        row lacks (when its bitstream is at hand) or why it is not the stored one (another length)."""
        name, point = run.codec.name, task.point
        reco = artifact_path(self.settings.reco_dir, name, point, task.image.name, ".png")
        if reco is not None and reco.is_file():
            from bench.core.images import load_rgb

            return load_rgb(reco).pixels, {}, None
        bitstream = artifact_path(self.settings.bitstream_dir, name, point, task.image.name, ".bin")
        data = bitstream.read_bytes() if bitstream is not None and bitstream.is_file() else None
        coder.select(task.image.pixels)
        if data is None:
            data = coder.encode(task.image.pixels)
        if len(data) != int(float(stored["bytes"])):
            return None, {}, f"encoder gave {len(data)} bytes now, {stored['bytes']} in the stored row"
        recon = coder.decode(data)
        checks = coder.verify(task.image.pixels, data, recon)
        return recon, {k: v for k, v in checks.items() if k not in ("status", "note") and stored.get(k, "") == ""}, None

    def _score_rows(self, run: CodecRun, coders: Mapping[str, Coder], bases: list[Row]) -> list[Row]:
        """Fill the columns the stored rows of ``bases`` lack (the later Y′CbCr PSNR, the run's plug-in metrics
        they were not scored by, codec-filled columns) from their reconstructions made again (:meth:`_remake`),
        scored on every core with ``jobs`` > 1; returns those whose bitstream or PSNR is not the stored one,
        to be measured again."""
        again: list[Row] = []
        with self._bar(len(bases), f"{run.codec.name} (scores stored rows lack)") as bar:
            for batch in _batches(bases, self._pool.jobs if self._pool is not None else 1):
                remade: list[tuple[Row, dict[str, str], np.ndarray, dict[str, Any], frozenset[str]]] = []
                for task in batch:
                    stored = self.store.get(task.fields["key"])
                    try:
                        recon, checks, problem = self._remake(run, coders[task.point], task, stored)
                    except Exception as exc:
                        recon, checks, problem = None, {}, f"{type(exc).__name__}: {exc}"
                    if problem is not None:
                        self._score_again(run, task, problem, again)
                        bar.update()
                        continue
                    remade.append((task, stored, recon, checks,
                                   frozenset(lacks_metrics(stored, self._metric_versions))))
                scores = self._score_pairs([(task.image, recon, only) for task, _, recon, _, only in remade])
                for (task, stored, _, checks, only), (values, notes) in zip(remade, scores, strict=True):
                    bar.update()
                    if repr(values["psnr"]) != stored["psnr"]:  # as the store writes a float
                        self._score_again(run, task, f"decoded PSNR {values['psnr']!r} now, {stored['psnr']} in "
                                                     "the stored row", again)
                        continue
                    update = {k: v for k, v in values.items() if k in self._metric_columns()
                              or (lacks_quality(stored) and k in LATER_QUALITY)}
                    if only:
                        update["metrics"] = metrics_label([m for m in self.metrics if m.name in only],
                                                          stored.get("metrics") or "")
                        new_notes = [note for note in notes if note.split(" missing:")[0] in only]
                        update["note"] = "; ".join(filter(None, [stored.get("note", ""), *new_notes]))
                    self.store.append({**stored, **checks, **update})
                    self.report.scored += 1
        return again

    def _score_again(self, run: CodecRun, task: Row, problem: str, again: list[Row]) -> None:
        log.warning("%s %s %s: measured again: %s", run.codec.name, task.point, task.image.name, problem)
        again.append(task)
        self.report.recomputed += 1

    def _score_pairs(self, pairs: list[tuple[PreparedImage, np.ndarray, frozenset[str] | None]]) -> list[Scores]:
        """The scores of reconstructions of images (each with the plug-in metrics to score, None: all), in
        order: in the scoring processes when the run has them, else here."""
        if self._pool is None:
            out, last = [], None
            for image, recon, only in pairs:
                if last is None or last[0] != image.sha256:
                    last = (image.sha256, reference_of(image.pixels, self.metrics))
                out.append(quality(last[1], image.pixels, recon, only))
            return out
        tasks = [ScoreTask(image.sha256, image.pixels, [recon], only) for image, recon, only in pairs]
        return [scores for part in self._pool.score(tasks) for scores in part]

    def _derive(self, run: CodecRun, coders: Mapping[str, Coder], missing: list[Row]) -> list[Row]:
        """Rows of ``missing`` derived (:meth:`Codec.derivation`) instead of measured by the codec's coder;
        returns those still to measure.

        The rows of the check sample's images (:data:`_checked`, the repeatability sample) are measured
        first by the codec's own coder, timed as usual (the codec's times come from them); each is made
        again by the derivation, and its bitstream must be the same bytes and its row the same values
        (:data:`DERIVATION_CHECKED`). A point with rows to derive and none of them in the sample (a subset
        of the images without a sample image, a run resumed after its sample rows were stored) has its
        first row measured the same way, timed and checked. Only when every check holds are the other rows
        derived (untimed, column ``derived``); at the first difference the derivation stops and they are
        measured by the codec.
        """
        if not self.settings.derive or not missing:
            return missing
        sampled = {task.point for task in missing if task.image.sha256 in self._checked}
        first = {task.point: task for task in reversed(missing)}  # each point's first row
        measured = [task.image.sha256 in self._checked or (task.point not in sampled and first[task.point] is task)
                    for task in missing]  # by the codec's coder, timed, each checking the derivation
        own = [task for task, mine in zip(missing, measured) if mine]
        rest = [task for task, mine in zip(missing, measured) if not mine]
        points = list(dict.fromkeys(task.point for task in rest))
        derivers = {point: run.codec.derivation(point) for point in points} if rest else {}
        if not derivers or any(deriver is None for deriver in derivers.values()):
            return missing
        name = run.codec.name
        problems: list[str] = []

        def check(point: str, image: PreparedImage, row: Mapping[str, Any], reference: Reference) -> None:
            if point not in derivers or row.get("status") != "ok":
                return
            derived = measure_row(derivers[point], image, reference, timed=False)
            problem = _derivation_differs(coders[point], row, derivers[point], derived)
            if problem:
                problems.append(f"{point} {image.name}: {problem}")
            checked.add(point)
            checked_on.add(image.name)

        checked: set[str] = set()
        checked_on: set[str] = set()
        self._rd_sequential(run, coders, own, after=check)
        unchecked = [point for point in points if point not in checked]
        if problems or unchecked:
            why = problems[0] if problems else f"no row of {', '.join(unchecked)} coded to check it on"
            self.report.derivation.append(f"{name}: rows not derived ({why}); {len(rest)} rows measured by "
                                          "its own coder")
            log.warning("%s", self.report.derivation[-1])
            return rest
        label = getattr(next(iter(derivers.values())), "derived", "derived")
        pool = self._pool if (self._pool is not None and self.settings.threads == 1
                              and self._pool.derives(run.codec)) else None
        where = f"in {pool.jobs} processes" if pool is not None else "here"
        self.report.derivation.append(f"{name}: {len(rest)} rows derived ({label}, {where}), checked on "
                                      f"{len(checked)} point(s) of {len(checked_on)} image(s)")
        with self._bar(len(rest), f"{name} (derived: {label}, {where})") as bar:
            for task, row in zip(rest, self._derived_rows(run, derivers, rest, pool), strict=True):
                self._check_columns(run, task.point, row)
                self.store.append({**task.fields, **row, "derived": label})
                self.report.measured += 1
                self.report.derived += 1
                bar.update()
        return []

    def _derived_rows(self, run: CodecRun, derivers: Mapping[str, Coder], rows: list[Row],
                      pool: ScoringPool | None) -> Iterator[dict[str, Any]]:
        """The derived rows' values, in order: untimed work, so on every core in ``pool``'s scoring processes
        (one torch thread each, as the run's) when given, else here."""
        if pool is not None:
            yield from pool.derive(run.codec, [(task.point, task.image) for task in rows])
            return
        last: tuple[str, Reference] | None = None
        for task in rows:
            if last is None or last[0] != task.image.sha256:
                last = (task.image.sha256, reference_of(task.image.pixels, self.metrics))
            yield measure_row(derivers[task.point], task.image, last[1], timed=False)

    def _rd_sequential(self, run: CodecRun, coders: Mapping[str, Coder], missing: list[Row],
                       after: AfterRow | None = None) -> dict[str, Any]:
        """Measure ``missing`` here, each row's calls timed and then scored in this process; returns the last
        row. ``after(point, image, row, reference)`` is called after each row is stored."""
        warmed = self._warmed.setdefault(id(run), WarmUps())
        row: dict[str, Any] = {}
        sync = run.codec.synchronize()
        last: tuple[str, Any] | None = None
        with self._bar(len(missing), f"{run.codec.name}") as bar:
            for task in missing:
                if last is None or last[0] != task.image.sha256:
                    last = (task.image.sha256, reference_of(task.image.pixels, self.metrics))
                done = self._code(run, coders, task, warmed, sync)
                scores = quality(last[1], task.image.pixels, done.recon) if done.recon is not None else ({}, [])
                row = self._store_measured(run, task, done, scores)
                bar.update()
                if after is not None:
                    after(task.point, task.image, row, last[1])
        return row

    def _rd_batched(self, run: CodecRun, coders: Mapping[str, Coder], missing: list[Row]) -> None:
        """Measure ``missing`` by batches: each batch's rows coded and timed here, alone (no other process of
        the run works meanwhile), then their reconstructions scored by the scoring processes on every core
        while nothing is timed; a batch's rows are stored when it is scored. The rows are those of
        :meth:`_rd_sequential`, which scores each row here."""
        warmed = self._warmed.setdefault(id(run), WarmUps())
        sync = run.codec.synchronize()
        stage = f"{run.codec.name} (timed alone, scored in {self._pool.jobs} processes)"
        with self._bar(len(missing), stage) as bar:
            for batch in _batches(missing, self._pool.jobs):
                coded: list[tuple[Row, Coded]] = []
                for task in batch:
                    coded.append((task, self._code(run, coders, task, warmed, sync)))
                scores = self._score(coded)
                for task, done in coded:
                    self._store_measured(run, task, done, scores.get(id(done), ({}, [])))
                    bar.update()

    def _code(self, run: CodecRun, coders: Mapping[str, Coder], task: Row, warmed: WarmUps,
              sync: Callable[[], None] | None) -> Coded:
        """``task``'s calls after its warm-up, timed under the run's policy (:func:`code_row`); its bitstream
        written if asked."""
        point, image = task.point, task.image
        coder = coders[point]
        with span(self.settings.trace, "timed"):
            warm_up(coder, point, image, warmed)
            return code_row(coder, image, timed=True, policy=self.settings.timing,
                            sampled=bool(task.fields["timing_sampled"]), synchronize=sync,
                            bitstream_path=artifact_path(self.settings.bitstream_dir, run.codec.name, point,
                                                         image.name, ".bin"))

    def _store_measured(self, run: CodecRun, task: Row, done: Coded, scores: Scores) -> dict[str, Any]:
        """``task``'s row finished with its ``scores`` (:func:`score_row`; the reconstruction written if asked),
        checked against the codec's declared columns and stored; returns it."""
        point, image = task.point, task.image
        reco_path = artifact_path(self.settings.reco_dir, run.codec.name, point, image.name, ".png")
        row = score_row(done, scores, reco_path)
        self._check_columns(run, point, row)
        self.store.append({**task.fields, **row})
        self.report.measured += 1
        self._note_noise(run.codec.name, point, image.name, row)
        return row

    def _score(self, coded: list[tuple[Row, Coded]]) -> dict[int, Scores]:
        """The scores of the reconstructions of ``coded`` (by ``id`` of each :class:`Coded`), from the scoring
        processes."""
        by_image: dict[str, list[Coded]] = {}
        pixels: dict[str, np.ndarray] = {}
        for task, done in coded:
            if done.recon is not None:
                by_image.setdefault(task.image.sha256, []).append(done)
                pixels[task.image.sha256] = task.image.pixels
        tasks = split_tasks([ScoreTask(sha, pixels[sha], [done.recon for done in rows])
                             for sha, rows in by_image.items()], self._pool.jobs)
        flat = [scores for part in self._pool.score(tasks) for scores in part]
        order = [done for rows in by_image.values() for done in rows]
        return {id(done): scores for done, scores in zip(order, flat, strict=True)}

    def _time_rows(self, run: CodecRun, coders: Mapping[str, Coder], untimed: list[Row]) -> None:
        """Sequential timing of stored rows whose RD values are kept and whose times are taken again
        (:func:`reuse_rule`)."""
        codec = run.codec
        sync = codec.synchronize()
        warmed = WarmUps()
        with self._bar(len(untimed), f"{codec.name} (timing)") as bar:
            for task in untimed:
                update = time_row(coders[task.point], task.point, task.image, stored=task.fields,
                                  policy=self.settings.timing, synchronize=sync, warmed=warmed)
                self._store_timing(codec.name, task, update, threads=self._threads(),
                                   allocator=self.settings.allocator, host=task.fields["host"])
                bar.update()
