"""Where and how results were made, stored next to them so numbers can be traced and redone."""

import datetime
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from PIL import features

__all__ = ["git_commit", "provenance"]

PACKAGES = ("wavecodec", "numpy", "pillow", "pillow-heif", "pillow-jxl-plugin", "torch", "pytorch-msssim", "scipy")
PILLOW_LIBRARIES = ("jpg", "webp", "avif", "jpg_2000")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git(*args: str) -> str:
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # a read-only look: never touch the index
    return subprocess.run(["git", *args], cwd=root, env=env, capture_output=True, text=True, check=True).stdout.strip()


def git_commit() -> str | None:
    """The commit of the repository, with "-dirty" when tracked files differ from it."""
    try:
        commit = _git("rev-parse", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("-dirty" if dirty else "")


def _versions() -> dict:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    for name in PILLOW_LIBRARIES:
        if features.check(name):
            versions[f"pillow:{name}"] = features.version(name)
    return versions


def provenance(command: str, threads: int, workers: int, reps: int) -> dict:
    return {
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": {
            "cpu": _cpu_model(),
            "cores": os.cpu_count(),
            "platform": platform.platform(),
            "arch": platform.machine(),
        },
        "threads": threads,
        "workers": workers,
        "speed_reps": reps,
        "versions": _versions(),
        "git_commit": git_commit(),
    }
