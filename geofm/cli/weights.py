"""`geofm weights download [MODEL...]` and `geofm weights list`."""

from __future__ import annotations

from typing import cast

from geofm.progress import Progress

import argparse
import sys
from collections.abc import Callable

from geofm.config import ENV_WEIGHTS_DIR, MODELS, TASK_MODELS, TASKS, get_model_spec
from geofm.errors import GeofmError
from geofm.settings import settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("weights", help="download or list the Prithvi weight files")
    wsub = p.add_subparsers(dest="weights_command", required=True)
    dl = wsub.add_parser("download", help="download weights into the Hugging Face cache")
    dl.add_argument("models", nargs="*", metavar="MODEL",
                    help=f"registry names or task names ({', '.join(TASKS)}); default: every task's model")
    dl.set_defaults(handler=_download)
    prep = wsub.add_parser("prepare", help="write the ready copies (folded, safetensors) beside the weight files")
    prep.add_argument("models", nargs="*", metavar="MODEL",
                      help="registry names or task names; default: the four task models")
    prep.add_argument("--weights-dir", default=None, help=f"folder to look in first (also ${ENV_WEIGHTS_DIR})")
    prep.set_defaults(handler=_prepare)
    ls = wsub.add_parser("list", help="show each model's file and where it was found")
    ls.add_argument("--weights-dir", default=None, help=f"folder to look in first (also ${ENV_WEIGHTS_DIR})")
    ls.set_defaults(handler=_list)


def _waiting(name: str) -> Callable[[str], None]:
    def say(text: str) -> None:
        print(f"geofm: {name}: {text}", file=sys.stderr, flush=True)
    return say


def _download(args: argparse.Namespace) -> int:
    from geofm.cli.run import download_note  # lazy: rasterio
    from geofm.models.download import download_reporter, fetch_weights  # lazy: torch
    from geofm.models.weights import find_in_hf_cache  # lazy: torch

    names = args.models or list(TASK_MODELS.values())
    specs = [get_model_spec(n) for n in names]  # validate every name before downloading anything
    for spec in specs:
        if find_in_hf_cache(spec) is None:
            print(f"{spec.name}: fetching {spec.filename} from huggingface.co/{spec.hf_repo} "
                  f"(about {spec.size_mb} MB) ...", flush=True)
        def note(_stage: str, message: str, fraction: float | None = None) -> None:
            download_note(message, fraction or 0.0)

        path = fetch_weights(spec, download_reporter(spec, cast(Progress, note)), on_wait=_waiting(spec.name))
        print(f"{spec.name}: {path}")
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from geofm.models.prepared import LoadTimes, load_ready_model  # lazy: torch

    specs = [get_model_spec(n) for n in (args.models or list(TASK_MODELS.values()))]
    for spec in specs:
        times = LoadTimes()
        load_ready_model(spec, weights_dir=args.weights_dir, times=times)
        state = {"used": "up to date", "written": "written", "stale": "rebuilt",
                 "damaged": "rebuilt: the old copy was damaged",
                 "unwritable": "could not be written"}.get(times.prepared, times.prepared)
        print(f"{spec.name}: {times.copy} ({state}, {sum(times.seconds.values()):.1f} s)")
    return 0


def _list(args: argparse.Namespace) -> int:
    from geofm.models.weights import resolve_weights  # lazy: torch

    tasks = {model: task for task, model in TASK_MODELS.items()}
    env_dir = settings().weights_dir
    print(f"{ENV_WEIGHTS_DIR}={env_dir or '(not set)'}")
    for name, spec in MODELS.items():
        try:
            where = str(resolve_weights(spec, args.weights_dir))
        except GeofmError:
            where = "missing"
        task = f" [{tasks[name]}]" if name in tasks else ""
        print(f"{name}{task}\n    file: {spec.filename} (huggingface.co/{spec.hf_repo})\n    found: {where}")
    return 0
