"""The repository is a Hugging Face Docker Space: README front matter and Dockerfile say what one needs."""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
from pathlib import Path

import yaml

from geofm.config import MODELS, TASKS

ROOT = Path(__file__).resolve().parents[1]

#: CUDA compute capability of the GPUs behind Space hardware flavours (NVIDIA specifications).
HARDWARE_CC = {"t4-small": 7.5, "t4-medium": 7.5, "l4x1": 8.9, "l4x4": 8.9, "a10g-small": 8.6,
               "a10g-large": 8.6, "a10g-largex2": 8.6, "a10g-largex4": 8.6, "a100-large": 8.0}
CPU_FLAVOURS = {"cpu-basic", "cpu-upgrade"}


def front_matter() -> dict:
    text = (ROOT / "README.md").read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n", 2)[1])


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        word, _, rest = current.partition(" ")
        lines.append((word.upper(), rest.strip()))
        current = ""
    return lines


def test_front_matter_is_a_docker_space_on_port_8501_with_the_models():
    fm = front_matter()
    assert fm["sdk"] == "docker" and fm["app_port"] == 8501
    assert "app_file" not in fm and "sdk_version" not in fm  # Streamlit-SDK fields are gone
    assert fm["suggested_hardware"] in HARDWARE_CC or fm["suggested_hardware"] in CPU_FLAVOURS
    every = {name for task in TASKS.values() for name in (task.model, *task.alt_models)}
    assert set(fm["models"]) == {MODELS[name].hf_repo for name in every}
    assert fm["title"] and fm["emoji"] and fm["short_description"]


def test_suggested_hardware_runs_the_precision_the_app_chooses():
    """On CUDA the app autocasts to bf16, which needs compute capability 8.0 (a T4 lacks it)."""
    fm = front_matter()
    hardware = fm["suggested_hardware"]
    device_code = (ROOT / "geofm" / "inference" / "device.py").read_text()
    if "torch.bfloat16" in device_code and hardware in HARDWARE_CC:
        assert HARDWARE_CC[hardware] >= 8.0, f"{hardware} has no bf16; suggest l4x1/a10g or choose fp16 there"
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
                                   "--server.port", "8501"]
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
    for dropped in (".git", "tests/test_app.py", "weights/x.pth", "scene.tif", "bench/io.py"):
        assert ignored(dropped), dropped
