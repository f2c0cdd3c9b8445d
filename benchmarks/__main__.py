"""``python -m benchmarks``: the same command as ``wavecodec bench``."""

from .cli import bench

bench(prog_name="python -m benchmarks")
