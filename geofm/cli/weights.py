"""`geofm weights download [MODEL...]` and `geofm weights list`."""

from __future__ import annotations

import argparse

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
    ls = wsub.add_parser("list", help="show each model's file and where it was found")
    ls.add_argument("--weights-dir", default=None, help=f"folder to look in first (also ${ENV_WEIGHTS_DIR})")
    ls.set_defaults(handler=_list)


def _download(args: argparse.Namespace) -> int:
    from geofm.models.weights import download_weights

    names = args.models or list(TASK_MODELS.values())
    specs = [get_model_spec(n) for n in names]  # validate every name before downloading anything
    for spec in specs:
        print(f"{spec.name}: fetching {spec.filename} from huggingface.co/{spec.hf_repo} "
              f"(about {spec.size_mb} MB) ...", flush=True)
        path = download_weights(spec)
        print(f"{spec.name}: {path}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from geofm.models.weights import resolve_weights

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
