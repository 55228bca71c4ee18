"""Codec options: declaration, ``--codec-args`` parsing, merging of defaults, flags and codec args.

Expected values are written out by hand from the declarations in each test (or, for the CompressAI
codecs, from their documented defaults), never taken from the code's own output.
"""

from __future__ import annotations

import argparse
import json

import pytest

from bench.cli import main
from bench.cli_options import build_parser, codec_options
from bench.core import registry
from bench.core.errors import CodecError
from bench.core.options import Option, flag_options, layered, parse_codec_args, resolve

SIZE = Option("size", int, 3, "a size")
GAIN = Option("gain", float, 1.0, "a gain", flag="--gain")
MODE = Option("mode", str, "fast", "a mode", choices=("fast", "slow"), flag="--mode")
FAST = Option("fast", bool, True, "go fast", flag="--slow")
FILES = Option("file", list, [], "a file (repeatable)", flag="--file")
NOTE = Option("note", str, None, "a note")
TOY = {"toy": (SIZE, GAIN, MODE, FAST, FILES, NOTE), "plain": ()}

LEARNED_DEFAULTS = {"device": "auto", "padding": "model", "update": True, "weights_mirror": None,
                    "checkpoint": [], "checkpoint_dir": None, "weights_cache": None}


# --- declaration ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "Bad-Name", "type": str, "default": "", "help": "h"}, "lower-case"),
    ({"name": "x", "type": dict, "default": {}, "help": "h"}, "type must be one of"),
    ({"name": "x", "type": int, "default": "3", "help": "h"}, "default '3' is not a int"),
    ({"name": "x", "type": int, "default": True, "help": "h"}, "default True is not a int"),
    ({"name": "x", "type": list, "default": [1], "help": "h"}, "is not a list of str"),
    ({"name": "x", "type": str, "default": "c", "help": "h", "choices": ("a", "b")}, "not one of its choices"),
    ({"name": "x", "type": str, "default": "a", "help": ""}, "give a help text"),
    ({"name": "x", "type": str, "default": "a", "help": "h", "flag": "-x"}, "must look like"),
])
def test_bad_declarations_are_refused(kwargs, message):
    with pytest.raises(CodecError, match=message):
        Option(**kwargs)


def test_declared_defaults_are_of_their_type_or_none():
    for codec, options in registry.declared().items():
        for option in options:
            assert option.default is None or option.type in (type(option.default),) or (
                option.type is float and type(option.default) is int), (codec, option)
            json.dumps(option.default)


# --- resolve -------------------------------------------------------------------------------------


def test_resolve_fills_defaults_and_converts_text():
    values = resolve(TOY["toy"], {"size": "12", "gain": 2, "fast": "no", "file": ("a", "b")}, codec="toy")
    assert values == {"size": 12, "gain": 2.0, "mode": "fast", "fast": False, "file": ["a", "b"], "note": None}
    assert isinstance(values["gain"], float)
    first, second = resolve(TOY["toy"], {}, codec="toy"), resolve(TOY["toy"], {}, codec="toy")
    first["file"].append("x")
    assert second["file"] == [] and FILES.default == []  # defaults are copies


@pytest.mark.parametrize("values, fragments", [
    ({"siz": 1}, ["codec 'toy' has no option 'siz'", "size, gain, mode, fast, file, note"]),
    ({"size": "1.5"}, ["codec 'toy'", "size='1.5'", "not a int"]),
    ({"size": 1.0}, ["size=1.0", "not a int"]),
    ({"mode": "medium"}, ["codec 'toy'", "mode='medium'", "fast, slow"]),
    ({"fast": "maybe"}, ["fast='maybe'", "true"]),
    ({"file": [1]}, ["file=[1]", "list of str"]),
])
def test_resolve_refuses_unknown_keys_and_bad_values(values, fragments):
    with pytest.raises(CodecError) as caught:
        resolve(TOY["toy"], values, codec="toy")
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_a_codec_without_options_takes_none():
    assert resolve((), {}, codec="plain") == {}
    with pytest.raises(CodecError, match="codec 'plain' has no option 'x'; its options: none"):
        resolve((), {"x": 1}, codec="plain")


# --- --codec-args --------------------------------------------------------------------------------


def test_codec_args_are_parsed_and_typed():
    parsed = parse_codec_args(["toy:size=5,mode=slow,file=a:b=c", "toy:file=d,size=6", "toy:fast=0"],
                              TOY)
    assert parsed == {"toy": {"size": 6, "mode": "slow", "file": ["a:b=c", "d"], "fast": False}}


@pytest.mark.parametrize("spec, fragments", [
    ("tyo:size=1", ["unknown codec 'tyo'", "plain, toy"]),
    ("toy:siz=1", ["codec 'toy' has no option 'siz'", "size, gain"]),
    ("toy:size=big", ["codec 'toy'", "size='big'", "int"]),
    ("toy:mode=medium", ["codec 'toy'", "mode='medium'", "fast, slow"]),
    ("toy:size", ["'size' is not KEY=VALUE"]),
    ("size=1", ["expected NAME:KEY=VALUE"]),
])
def test_bad_codec_args_are_one_line_errors(spec, fragments):
    with pytest.raises(CodecError) as caught:
        parse_codec_args([spec], TOY)
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


# --- flags and precedence ------------------------------------------------------------------------


def test_flags_shared_by_codecs_must_agree():
    same = flag_options({"a": (MODE,), "b": (MODE, GAIN)})
    assert same["--mode"] == (MODE, ("a", "b")) and same["--gain"] == (GAIN, ("b",))
    other = Option("mode", str, "slow", "a mode", choices=("fast", "slow"), flag="--mode")
    with pytest.raises(CodecError, match="codecs 'a' and 'b' declare the flag --mode differently"):
        flag_options({"a": (MODE,), "b": (other,)})
    with pytest.raises(CodecError, match="gives the flag --mode to two options"):
        flag_options({"a": (MODE, Option("speed", str, "x", "h", flag="--mode"))})


def test_layers_defaults_then_flags_then_codec_args():
    flags = {"--mode": "slow", "--gain": 2.0, "--slow": False}
    given = layered(TOY["toy"], flags, {"gain": 3.0})
    assert given == {"mode": "slow", "gain": 3.0, "fast": False}  # no defaults: usable as overrides
    assert resolve(TOY["toy"], given, codec="toy") == {"size": 3, "gain": 3.0, "mode": "slow", "fast": False,
                                                       "file": [], "note": None}


def test_cli_flags_and_codec_args_per_codec():
    args = build_parser().parse_args([
        "run", "--codecs", "mbt2018,bmshj2018-hyperprior,jpeg", "--device", "cpu", "--padding", "eval_model",
        "--no-update", "--checkpoint", "mbt2018:a=x.pth", "--checkpoint", "mbt2018:b=y.pth",
        "--codec-args", "mbt2018:device=cuda,checkpoint=mbt2018:c=z.pth", "--codec-args", "mbt2018:update=true"])
    options = codec_options(args, ["mbt2018", "bmshj2018-hyperprior", "jpeg"])
    assert options["jpeg"] == {}
    assert options["bmshj2018-hyperprior"] == {**LEARNED_DEFAULTS, "device": "cpu", "padding": "eval_model",
                                               "update": False, "checkpoint": ["mbt2018:a=x.pth", "mbt2018:b=y.pth"]}
    assert options["mbt2018"] == {**LEARNED_DEFAULTS, "device": "cuda", "padding": "eval_model", "update": True,
                                  "checkpoint": ["mbt2018:c=z.pth"]}
    plain = codec_options(build_parser().parse_args(["run", "--codecs", "mbt2018"]), ["mbt2018"])
    assert plain == {"mbt2018": LEARNED_DEFAULTS}


def test_today_s_flags_keep_their_spelling_and_defaults():
    parser = build_parser()
    args = parser.parse_args(["run", "--checkpoint-dir", "exports", "--weights-mirror", "/m",
                              "--weights-cache", "/c"])
    options = codec_options(args, ["bmshj2018-factorized"])["bmshj2018-factorized"]
    assert (options["checkpoint_dir"], options["weights_mirror"], options["weights_cache"]) == ("exports", "/m", "/c")
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--device", "gpu"])  # argparse's own choices check, as before


def test_unknown_codec_arg_key_fails_in_one_line(capsys, tmp_path):
    status = main(["run", "--codecs", "bmshj2018-factorized", "--results", str(tmp_path),
                   "--codec-args", "bmshj2018-factorized:devce=cpu"])
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1, err
    assert err[0].startswith("error: codec 'bmshj2018-factorized' has no option 'devce'; its options: device, ")
    assert not (tmp_path / "kodak").exists()


def test_registry_create_checks_options():
    with pytest.raises(CodecError, match="codec 'jpeg' has no option 'device'"):
        registry.create("jpeg", {"device": "cpu"})
    assert dict(registry.create("jpeg").options) == {}
    codec = registry.create("bmshj2018-factorized", {"device": "cpu", "padding": "eval_model"})
    assert codec.options == {**LEARNED_DEFAULTS, "device": "cpu", "padding": "eval_model"}
    assert codec.padding == "eval_model" and codec.device.type == "cpu"
    with pytest.raises(CodecError, match="padding='zeros' is not one of model, eval_model"):
        registry.create("bmshj2018-factorized", {"padding": "zeros"})


def test_every_cli_option_has_a_help_text():
    def walk(parser: argparse.ArgumentParser, path: str):
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    yield from walk(sub, f"{path} {name}")
            elif not isinstance(action, argparse._HelpAction):
                yield path, action

    missing = [f"{path}: {'/'.join(action.option_strings) or action.dest}" for path, action in
               walk(build_parser(), "bench") if not action.help]
    assert not missing, missing
