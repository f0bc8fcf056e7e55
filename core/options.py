"""The run options of the command line, generated from the config schema (core.config.SETTINGS).

One argparse option per Setting: its flag, metavar, choices, help (with the default read from
RunConfig) and its one parser. The mode options (--no-ui, --watch, --race, ...) stay written
by hand in core/cli.py, where a new mode is added.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable

from core.config import SETTINGS, ConfigError, RunConfig, Setting, preset_config, validate


def _argparse_type(setting: Setting) -> Callable[[str], Any]:
    """The Setting's own parser; its ConfigError becomes argparse's one-line usage error."""

    def parse(text: str) -> Any:
        try:
            return setting.parse(text)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = setting.words  # argparse names the type in some messages
    return parse


def option_help(setting: Setting) -> str:
    if not setting.show_default:
        return setting.help
    return f"{setting.help} (default {setting.show(setting.default)})"


def add_run_options(group: argparse._ArgumentGroup) -> None:
    """--dataset, --model, --hidden, ...: one option per command-line Setting."""
    for setting in SETTINGS:
        help_text = option_help(setting)
        if setting.kind == "toggle":
            group.add_argument(setting.flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif setting.kind == "choice" and not setting.aliases:
            group.add_argument(setting.flag, choices=setting.choices, help=help_text)
        else:  # choices with aliases are resolved by the parser and checked by validate()
            group.add_argument(setting.flag, type=_argparse_type(setting), metavar=setting.metavar, help=help_text)


def given_config_options(args: argparse.Namespace) -> list[str]:
    """The RunConfig fields the user set on the command line, in schema order."""
    return [s.name for s in SETTINGS if getattr(args, s.name, None) is not None]


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Preset (or defaults), then every option the user gave, then validation."""
    base = preset_config(args.preset) if args.preset else RunConfig()
    return validate(base.with_overrides(**{s.name: getattr(args, s.name) for s in SETTINGS}))
