"""The complexity measurement: parameters, MACs, encoder/decoder time and peak memory per model and λ.

Three sources, never mixed in one table:

* **counts** (:mod:`bench.learned.macs`): parameters and MACs per part and per coding side, with fvcore, at the
  Kodak size; they depend on the architecture and channel configuration only, not on the weights — the
  configuration that runs: a user checkpoint's own (read from its tensors), else the zoo's of the label;
* **time**: the harness's per-image rows (``encode_s``/``decode_s`` of whole ``encode``/``decode``
  calls), averaged per device × hardware × threads × codec × point (:mod:`.tables`); and an instrumented
  measurement (:mod:`.timing`) that times the networks and the entropy coder separately on a few images,
  with one discarded warm-up call per step and input shape and, on CUDA, ``torch.cuda.synchronize``
  around the clock;
* **memory** (:mod:`bench.learned.memory`): peak RSS of a fresh process (CPU) or the CUDA allocator's peak.

Models without trained weights are timed random-initialised with their zoo configuration
(``update(force=True)``): their network times are real, their entropy-coding times are not (a random
model's latents are almost all zero, so the rANS coder has next to nothing to code).

:func:`.run.run_complexity` measures and writes the tables (:mod:`.files` names them) and the run's
conditions; :mod:`bench.analysis.complexity_report` renders ``complexity.md`` and the plot from them.
Any other registered codec — a plug-in's network, a named model, a codec without torch — is measured
as far as what its coders expose allows (:mod:`.registered`), and the run file says why the rest is absent.
Modules: :mod:`.files` (the files and their shared labels), :mod:`.tables` (results rows, step timings,
counts and memory as tidy tables), :mod:`.timing` (the instrumented timing), :mod:`.registered` (the other
codecs), :mod:`.run` (all of it).
"""
