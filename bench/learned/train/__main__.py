"""Command line: ``python -m bench.learned.train <command>`` (or ``python -m bench train <command>``).
The only module of the package that prints and exits; errors go through :func:`bench.cli_run.run_main`.

Every setting of :class:`bench.learned.train.recipe.TrainConfig` is also a flag (``--batch-size 8``,
``--finetune-lambdas 0.0483,0.013``, ``--no-progress``); flags override ``--config FILE``, which
overrides the defaults.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import signal
import sys
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

from bench.cli_run import run_main
from bench.learned.train.recipe import TrainConfig, load_config, schedule

_SKIP = {"extra"}


def _converter(hint: Any) -> tuple[Callable[[str], Any] | None, bool]:
    """(string → value, is_bool) for a TrainConfig annotation."""
    args = typing.get_args(hint)
    optional = typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args
    base = next(a for a in args if a is not type(None)) if optional else hint
    if base is bool:
        return None, True
    if typing.get_origin(base) is tuple:
        item = typing.get_args(base)[0]

        def parse_tuple(text: str) -> tuple:
            return tuple(item(v) for v in text.split(",") if v.strip())
        return parse_tuple, False

    def parse(text: str) -> Any:
        if optional and text.lower() in ("none", "null", ""):
            return None
        try:
            return base(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {base.__name__}, got {text!r}") from None
    return parse, False


def _add_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="JSON file of settings (e.g. configs/train-small-cpu.json)")
    group = parser.add_argument_group("settings (override --config; see bench/train/recipe.py)")
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        if f.name in _SKIP:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        parse, is_bool = _converter(hints[f.name])
        shown = ",".join(map(str, default)) if isinstance(default, tuple) else default
        if is_bool:
            group.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS,
                               help=f"(default: {shown})")
        else:
            group.add_argument(flag, dest=f.name, type=parse, default=argparse.SUPPRESS,
                               help=f"(default: {shown})")


def _settings(args: argparse.Namespace) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    return {k: v for k, v in vars(args).items() if k in names}


def _configs(args: argparse.Namespace) -> list[TrainConfig]:
    """One configuration per architecture of ``--arch a,b`` (a single one otherwise)."""
    settings = _settings(args)
    archs = str(settings.pop("arch")).split(",") if "arch" in settings else [None]
    return [load_config(args.config, **settings, **({"arch": a.strip()} if a else {})) for a in archs]


def build_parser(prog: str = "python -m bench.learned.train") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog,
                                     description="Train the study's models; export checkpoints for the benchmark.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug messages")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="the whole schedule: pre-training, then every fine-tuning λ (resumes)")
    _add_settings(run)
    run.add_argument("--stages", help="comma-separated stage names to run (default: all, in order)")
    run.add_argument("--restart", action="store_true", help="start the stages over instead of resuming")

    stage = commands.add_parser("stage", help="one stage on its own, e.g. pretrain or finetune-lambda0.0130")
    stage.add_argument("name", help="stage name (`python -m bench.learned.train config` lists them)")
    _add_settings(stage)
    stage.add_argument("--init-from", metavar="PATH", help="start from these weights (checkpoint or export) "
                                                            "instead of the pre-training stage's")
    stage.add_argument("--resume", metavar="PATH", help="continue from this checkpoint instead of the stage's own")
    stage.add_argument("--restart", action="store_true", help="start the stage over instead of resuming")

    curves = commands.add_parser("curves", help="redraw the training curves from the CSV logs")
    _add_settings(curves)

    specs = commands.add_parser("specs", help="print ARCH:LABEL=PATH for each export in a folder")
    specs.add_argument("directory", help="folder of exports (e.g. runs/train/exports)")
    specs.add_argument("--format", choices=("lines", "args", "codecs"), default="lines",
                       help="lines: one spec per line; args: --checkpoint SPEC … on one line; "
                            "codecs: the architectures, comma-separated (default: %(default)s)")

    show = commands.add_parser("config", help="print the resolved settings and the stages")
    _add_settings(show)
    return parser


class _StopFlag:
    """First Ctrl-C: stop after the current step with a checkpoint; second: abort."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: Any = None

    def __enter__(self) -> typing.Self:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after this step with a checkpoint (Ctrl-C again to abort)", file=sys.stderr)

    def __call__(self) -> bool:
        return self.requested


def _report(results: Sequence[Any]) -> int:
    for r in results:
        where = f", export {r.export}" if r.export else ""
        done = f"{r.epoch} epochs" + (f" + {r.step} batches" if r.step else "")
        print(f"{r.stage}: {r.status} ({done} done, {r.steps} steps; checkpoint {r.checkpoint}{where})")
    if results and results[-1].status == "stopped":
        print("stopped; run the same command again to resume", file=sys.stderr)
        return 130
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    from bench.learned.train.loop import exports_dir, run_schedule

    stages = [s.strip() for s in args.stages.split(",")] if args.stages else None
    code = 0
    with _StopFlag() as stop:
        for config in _configs(args):
            code = _report(run_schedule(config, stages=stages, restart=args.restart, should_stop=stop))
            if code:
                return code
            print(f"exports: {exports_dir(config)}")
    return code


def _cmd_stage(args: argparse.Namespace) -> int:
    from bench.learned.train.loop import train_stage

    configs = _configs(args)
    if len(configs) != 1:
        print("error: give one architecture for a single stage", file=sys.stderr)
        return 2
    with _StopFlag() as stop:
        result = train_stage(configs[0], args.name, init_from=args.init_from, resume_from=args.resume,
                             restart=args.restart, should_stop=stop)
    return _report([result])


def _cmd_curves(args: argparse.Namespace) -> int:
    from bench.learned.train.curves import write_all_curves

    config = _configs(args)[0]
    for path in write_all_curves(config.out, config.reports):
        print(path)
    return 0


def _cmd_specs(args: argparse.Namespace) -> int:
    from bench.learned.train.export import checkpoint_specs

    specs = checkpoint_specs(args.directory)
    if args.format == "lines":
        print("\n".join(specs))
    elif args.format == "args":
        print(" ".join(f"--checkpoint {s}" for s in specs))
    else:
        print(",".join(dict.fromkeys(s.split(":", 1)[0] for s in specs)))
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    for config in _configs(args):
        stages = [{"name": s.name, "lambda": s.lam, "epochs": s.epochs, "lr": s.lr, "init_from": s.init_from}
                  for s in schedule(config)]
        print(json.dumps({"settings": config.to_dict(), "stages": stages}, indent=2))
    return 0


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": _cmd_run, "stage": _cmd_stage, "curves": _cmd_curves, "specs": _cmd_specs, "config": _cmd_config,
}


def main(argv: Sequence[str] | None = None, *, prog: str = "python -m bench.learned.train") -> int:
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(message)s")
    return run_main(lambda: COMMANDS[args.command](args),
                    interrupted="interrupted; the last checkpoint is kept, run the same command again to resume")


if __name__ == "__main__":
    sys.exit(main())
