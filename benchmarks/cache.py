"""Results kept per (codec, quality, signal) so an interrupted run resumes where it stopped.

Each measurement is its own small JSON file, written atomically, so a kill at any moment leaves
either the old state or the new one, never a half-written file. A cached row is reused only when
the codec's version string and the signal's content hash still match.
"""

import json
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "ResultCache"]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write via a temporary file in the same folder and rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it private; results are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


class ResultCache:
    def __init__(self, root: Path):
        self.root = Path(root)

    def _row_path(self, codec: str, quality, sample_name: str) -> Path:
        return self.root / codec / f"q{quality}" / f"{sample_name}.json"

    def _speed_path(self, codec: str, quality) -> Path:
        return self.root / codec / "speed" / f"q{quality}.json"

    @staticmethod
    def _read(path: Path, **expected) -> dict | None:
        try:
            row = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return row if all(row.get(k) == v for k, v in expected.items()) else None

    def get_row(self, codec, quality, sample_name, **key) -> dict | None:
        """The cached row if its key fields (content digest, codec and measure versions) match."""
        return self._read(self._row_path(codec, quality, sample_name), **key)

    def put_row(self, row: dict) -> None:
        atomic_write(self._row_path(row["codec"], row["quality"], row["signal"]), json.dumps(row))

    def get_speed(self, codec, quality, **key) -> dict | None:
        return self._read(self._speed_path(codec, quality), **key)

    def put_speed(self, codec, quality, record: dict) -> None:
        atomic_write(self._speed_path(codec, quality), json.dumps(record))
