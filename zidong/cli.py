"""The ``zidong`` command line."""
from __future__ import annotations

import argparse
import sys

from zidong import __version__
from zidong.config import ConfigError, load_config


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default="small", help="preset name (tiny, small, base, large, xl) "
                   "or a YAML file")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value, e.g. --set model.fusion.layers=4 (repeatable)")


def cmd_version(args) -> int:
    import mindspore
    print(f"zidong {__version__} (mindspore {mindspore.__version__})")
    return 0


def cmd_plan(args) -> int:
    from zidong.plan import plan_report
    print(plan_report(load_config(args.config, args.overrides)))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="zidong", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("version", help="print versions").set_defaults(func=cmd_version)
    p = sub.add_parser("plan", help="parameter count per component for a config")
    _add_config_args(p)
    p.set_defaults(func=cmd_plan)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as e:
        print(f"zidong: config error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
