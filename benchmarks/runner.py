"""Running the sweeps: every (codec, quality, signal) once, cached, optionally in parallel.

Rate-distortion rows are measured in worker processes when ``workers > 1`` (one task per codec and
signal, all its pending qualities), each row cached as soon as it exists. Speed is measured
afterwards in this process, on one fixed signal, as the median of ``reps`` timed runs, so the
pool never competes with the timings.
"""

import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context

from tqdm import tqdm

from .adapter import Adapter
from .cache import ResultCache
from .registry import KINDS
from .signals import Sample

__all__ = ["RunResult", "run_rd", "measure_speed", "thread_count"]


@dataclass
class RunResult:
    rows: list[dict] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # codec -> why it was dropped
    computed: int = 0  # rows measured in this run (the rest came from the cache)


def thread_count() -> int:
    """The thread count timings ran with: torch's pool when torch is loaded, else the cores."""
    torch = sys.modules.get("torch")
    return torch.get_num_threads() if torch is not None else os.cpu_count()


def _measure(adapter: Adapter, sample: Sample, quality) -> dict:
    kind = KINDS[adapter.kind]
    start = time.perf_counter()
    data = adapter.encode(sample.data, quality)
    encoded = time.perf_counter()
    decoded = adapter.decode(data)
    done = time.perf_counter()
    return {
        "codec": adapter.name,
        "quality": quality,
        "signal": sample.name,
        "digest": sample.digest,
        "version": adapter.version(),
        "measured": kind.measure_version(),
        "bytes": len(data),
        "size": sample.size,
        **kind.measure(sample, decoded, len(data)),
        "encode_s": encoded - start,
        "decode_s": done - encoded,
    }


def _task(adapter: Adapter, sample: Sample, qualities: list, cache_root) -> tuple[list[dict], str | None]:
    """Measure and cache one signal at several qualities; stop at the first failure and say why."""
    cache, rows = ResultCache(cache_root), []
    for quality in qualities:
        try:
            row = _measure(adapter, sample, quality)
        except Exception as exc:  # any codec bug must drop that codec, not the whole run
            return rows, f"{sample.name} at quality {quality}: {type(exc).__name__}: {exc}"
        cache.put_row(row)
        rows.append(row)
    return rows, None


def _init_worker() -> None:
    """One torch thread per worker: the pool already uses the cores."""
    try:
        import torch
    except ImportError:
        return
    torch.set_num_threads(1)


def run_rd(adapters: list[Adapter], samples: list[Sample], cache: ResultCache, workers: int = 1) -> RunResult:
    result = RunResult()
    tasks = []
    for adapter in adapters:
        key = {"version": adapter.version(), "measured": KINDS[adapter.kind].measure_version()}
        for sample in samples:
            pending = []
            for quality in adapter.qualities:
                row = cache.get_row(adapter.name, quality, sample.name, digest=sample.digest, **key)
                if row is None:
                    pending.append(quality)
                else:
                    result.rows.append(row)
            if pending:
                tasks.append((adapter, sample, pending))

    def record(adapter, rows, error, bar):
        result.rows.extend(rows)
        result.computed += len(rows)
        bar.update(len(rows))
        if error and adapter.name not in result.failures:
            result.failures[adapter.name] = error

    with tqdm(total=sum(len(t[2]) for t in tasks), desc="rate-distortion", unit="point", disable=None) as bar:
        if workers <= 1:
            for adapter, sample, pending in tasks:
                if adapter.name not in result.failures:
                    record(adapter, *_task(adapter, sample, pending, cache.root), bar)
        else:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker) as pool:
                futures = {pool.submit(_task, a, s, p, cache.root): a for a, s, p in tasks}
                try:
                    for future in as_completed(futures):
                        adapter = futures[future]
                        if future.cancelled():
                            continue
                        record(adapter, *future.result(), bar)
                        if adapter.name in result.failures:  # its other images are wasted work now
                            for other, owner in futures.items():
                                if owner.name == adapter.name:
                                    other.cancel()
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    result.rows = [row for row in result.rows if row["codec"] not in result.failures]
    return result


def measure_speed(adapters: list[Adapter], sample: Sample, reps: int, cache: ResultCache) -> tuple[dict, dict]:
    """Median encode/decode seconds on ``sample`` (codec -> quality -> record), and failures."""
    speeds, failures = {}, {}
    threads = thread_count()
    with tqdm(total=sum(len(a.qualities) for a in adapters), desc="speed", unit="point", disable=None) as bar:
        for adapter in adapters:
            key = {"digest": sample.digest, "reps": reps, "threads": threads, "version": adapter.version()}
            try:
                speeds[adapter.name] = _speed(adapter, sample, reps, cache, key, bar)
            except Exception as exc:  # a codec bug drops that codec, not the run
                failures[adapter.name] = f"speed run on {sample.name}: {type(exc).__name__}: {exc}"
    return speeds, failures


def _speed(adapter, sample, reps, cache, key, bar) -> dict:
    records, warmed = {}, False
    for quality in adapter.qualities:
        record = cache.get_speed(adapter.name, quality, **key)
        if record is None:
            if not warmed:  # the first call pays for lazy imports and library set-up
                adapter.decode(adapter.encode(sample.data, quality))
                warmed = True
            enc, dec = [], []
            for _ in range(reps):
                start = time.perf_counter()
                data = adapter.encode(sample.data, quality)
                middle = time.perf_counter()
                adapter.decode(data)
                enc.append(middle - start)
                dec.append(time.perf_counter() - middle)
            record = {**key, "encode_s": statistics.median(enc), "decode_s": statistics.median(dec)}
            cache.put_speed(adapter.name, quality, record)
        records[quality] = record
        bar.update(1)
    return records
