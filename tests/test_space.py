"""The repository is a Hugging Face Docker Space: README front matter and Dockerfile say what one needs."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from geofm.config import MODELS, TASK_MODELS, TASKS
from geofm.errors import InputError
from tests.dockerfile import instructions, space_command

ROOT = Path(__file__).resolve().parents[1]

#: CUDA compute capability of the GPUs behind Space hardware flavours (NVIDIA specifications).
HARDWARE_CC = {"t4-small": 7.5, "t4-medium": 7.5, "l4x1": 8.9, "l4x4": 8.9, "a10g-small": 8.6,
               "a10g-large": 8.6, "a10g-largex2": 8.6, "a10g-largex4": 8.6, "a100-large": 8.0}
CPU_FLAVOURS = {"cpu-basic", "cpu-upgrade"}


def front_matter() -> dict:
    text = (ROOT / "README.md").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


def test_front_matter_is_a_docker_space_on_port_8501_with_the_models():
    fm = front_matter()
    assert fm["sdk"] == "docker" and fm["app_port"] == 8501
    assert "app_file" not in fm and "sdk_version" not in fm  # Streamlit-SDK fields are gone
    assert fm["suggested_hardware"] in HARDWARE_CC or fm["suggested_hardware"] in CPU_FLAVOURS
    every = {name for task in TASKS.values() for name in (task.model, *task.alt_models)}
    assert set(fm["models"]) == {MODELS[name].hf_repo for name in every}
    assert fm["title"] and fm["emoji"] and fm["short_description"]


def test_suggested_hardware_runs_the_precision_the_app_chooses():
    """The precision the app runs on the suggested hardware (the Dockerfile's GEOFM_PRECISION, else auto), asked
    of the code that decides it: an explicit bf16 on a GPU without it (a T4) is refused, auto picks what the GPU
    has. (Before, this was checked only if a string appeared in a file the check no longer lived in.)"""
    from geofm.config import PRECISION_POLICY
    from geofm.inference.precision import choose_precision

    fm = front_matter()
    hardware = fm["suggested_hardware"]
    env = " ".join(args for op, args in instructions() if op == "ENV")
    set_in_docker = re.search(r"\bGEOFM_PRECISION=(\S+)", env)
    requested = set_in_docker.group(1).strip("\"'") if set_in_docker else "auto"
    if hardware in CPU_FLAVOURS:
        assert choose_precision(requested, "cpu") in ("fp32", "bf16")
    else:
        cc = HARDWARE_CC[hardware]
        capability = (int(cc), round(cc % 1 * 10))
        chosen = choose_precision(requested, "cuda", capability)  # raises for bf16 on a GPU without it
        assert chosen != "bf16" or capability >= PRECISION_POLICY.bf16_min_capability, hardware
    # the rule itself, on the flavours a Space offers: a T4 (7.5) gets fp16 from auto and refuses bf16
    assert choose_precision("auto", "cuda", (7, 5)) == "fp16" and choose_precision("auto", "cuda", (8, 6)) == "bf16"
    with pytest.raises(InputError, match="has no native bf16"):
        choose_precision("bf16", "cuda", (7, 5))
    readme = (ROOT / "README.md").read_text()
    assert hardware in readme.split("---\n", 2)[2]  # and the README says why
    for flavour in ("CPU basic", "T4", "L4", "A10G"):
        assert re.search(rf"^\| {flavour}\b.*\|.*(measured|estimate)", readme, re.M), flavour


def test_dockerfile_runs_as_uid_1000_with_writable_caches():
    steps = instructions()
    assert steps[0][0] == "FROM"
    useradd = [args for op, args in steps if op == "RUN" and "useradd" in args]
    assert useradd and re.search(r"(--uid|-u) 1000\b", useradd[0])
    user_name = shlex.split(useradd[0])[-1]
    users = [args for op, args in steps if op == "USER"]
    assert users and users[-1] in (user_name, "1000")
    first_user = next(i for i, (op, _) in enumerate(steps) if op == "USER")
    assert all(op != "RUN" or "useradd" in args for op, args in steps[1:first_user])  # nothing else as root
    env = " ".join(args for op, args in steps if op == "ENV")
    for var in ("HF_HOME", "GEOFM_CACHE_DIR", "GEOFM_WEIGHTS_DIR"):
        m = re.search(rf"\b{var}=(\S+)", env)
        assert m and m.group(1).startswith(f"/home/{user_name}/"), var
    assert any(op == "COPY" and "--chown=user" in args for op, args in steps)


def test_dockerfile_installs_the_readme_setup_and_gets_the_weights_pinned():
    steps = instructions()
    runs = " && ".join(args for op, args in steps if op == "RUN")
    assert "pip install --user -r requirements.txt" in runs
    assert "torch==2.13.0" in (ROOT / "requirements.txt").read_text()
    args = {a.split("=")[0] for op, a in steps if op == "ARG"}
    for name in {name for task in TASKS.values() for name in (task.model, *task.alt_models)}:
        spec = MODELS[name]
        extra = f" +{re.escape(spec.config_file)}" if spec.config_file else ""  # the EO-2.0 config beside it
        m = re.search(rf"hf download +{re.escape(spec.hf_repo)} +{re.escape(spec.filename)}{extra} +--revision "
                      r"\"\$(\w+)\" +--local-dir \"\$GEOFM_WEIGHTS_DIR\"", runs)
        assert m, spec.filename
        assert m.group(1) in args
    assert "python -m geofm weights prepare" in runs


def test_dockerfile_serves_streamlit_on_8501_with_a_health_check():
    steps = instructions()
    assert ("EXPOSE", "8501") in steps
    cmd = [args for op, args in steps if op == "CMD"]
    assert json.loads(cmd[-1]) == ["streamlit", "run", "app.py", "--server.address", "0.0.0.0",
                                   "--server.port", "8501", "--server.enableXsrfProtection", "false"]
    health = [args for op, args in steps if op == "HEALTHCHECK"]
    assert health and "http://127.0.0.1:8501/_stcore/health" in health[0] and " CMD " in f" {health[0]}"


def test_dockerignore_keeps_what_the_app_needs_and_drops_the_rest():
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()
                if p.strip() and not p.startswith("#")]

    def ignored(path: str) -> bool:
        return any(fnmatch.fnmatch(path, p) or path.startswith(p.rstrip("/") + "/") for p in patterns)

    for needed in ("app.py", "requirements.txt", "geofm/serve/ui.py", "app_pages/2_Flood.py",
                   ".streamlit/config.toml", "static/vendor"):
        assert (ROOT / needed).exists() and not ignored(needed), needed
    for dropped in (".git", "tests/app/test_pages.py", "weights/x.pth", "scene.tif", "bench/io.py"):
        assert ignored(dropped), dropped


def test_space_command_turns_the_xsrf_check_off_and_says_why():
    """Inside the Spaces iframe the XSRF cookie is not sent, so uploads fail with 403 unless the check is off."""
    cmd = space_command()
    assert cmd[cmd.index("--server.enableXsrfProtection") + 1] == "false"
    text = (ROOT / "Dockerfile").read_text()
    assert "iframe" in text and "403" in text and "spaces-cookie-limitations" in text  # the reason beside it
    # only the Space: the local config keeps Streamlit's default (XSRF on)
    assert "enableXsrfProtection" not in (ROOT / ".streamlit" / "config.toml").read_text()
