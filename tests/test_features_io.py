"""Feature tensor files: .npy / .pt / .safetensors round trips, refusals, and the CLI."""

import io
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from codec.errors import InputError
from codec.features.io import Tensor, read_tensors, write_tensors

torch = pytest.importorskip("torch")


def tensors():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    return [Tensor("layer1.out", "float32", x), Tensor("h", "float16", x[0].astype(np.float16)),
            Tensor.from_values("b", "bfloat16", x[:, 0])]


@pytest.mark.parametrize("fmt", ["pt", "safetensors"])
def test_names_shapes_dtypes_and_bits_survive(fmt):
    ts = tensors()
    back = read_tensors(write_tensors(ts, fmt))
    assert [(t.name, t.dtype, t.shape) for t in back] == [(t.name, t.dtype, t.shape) for t in ts]
    assert all(np.array_equal(a.array.view(np.uint8), b.array.view(np.uint8)) for a, b in zip(ts, back))


def test_npy_single_tensor_and_bfloat16_refused_for_npy():
    (t,) = read_tensors(write_tensors(tensors()[1:2], "npy"))
    assert t.dtype == "float16" and t.shape == (3, 4, 5)
    with pytest.raises(InputError, match=".npy holds one"):
        write_tensors(tensors()[2:], "npy")


def test_safetensors_matches_the_reference_layout():
    data = write_tensors([Tensor("a", "float16", np.arange(3, dtype=np.float16))], "safetensors")
    (n,) = struct.unpack("<Q", data[:8])
    assert json.loads(data[8:8 + n]) == {"a": {"dtype": "F16", "shape": [3], "data_offsets": [0, 6]}}
    assert data[8 + n:] == np.arange(3, dtype="<f2").tobytes()


def npy_bytes(a, **kw):
    buf = io.BytesIO()
    np.save(buf, a, **kw)
    return buf.getvalue()


def huge_npy_header():
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False, "shape": (65536, 65536, 4)})
    return buf.getvalue() + bytes(64)


def st_bytes(header: dict, payload: bytes) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + payload


@pytest.mark.parametrize("data, message", [
    (npy_bytes(np.array([1, "a"], dtype=object), allow_pickle=True), "Python objects"),
    (npy_bytes(np.arange(4, dtype=np.int32)), "not supported"),
    (npy_bytes(np.zeros((0, 3), np.float32)), "empty"),
    (npy_bytes(np.zeros(4, np.float32))[:-4], "declares"),
    (huge_npy_header(), "exceeds the limit"),
    (st_bytes({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 12]}}, bytes(12)), "12 bytes for shape"),
    (st_bytes({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
               "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)), "overlaps"),
    (st_bytes({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(16)), "no tensor claims"),
    (st_bytes({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 800]}}, bytes(8)), "outside"),
    (st_bytes({"a": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}, bytes(8)), "dtype I64"),
    (st_bytes({"a": {"dtype": "F32", "shape": [2**31, 2**31], "data_offsets": [0, 8]}}, bytes(8)), "exceeds"),
    (st_bytes({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 8]}}, bytes(8)), "invalid shape"),
    (struct.pack("<Q", 2**40) + b"{}", "does not fit"),
    (st_bytes({"a": []}, b""), "malformed"),
    (b"\x80\x02}q\x00.", "legacy"),
    (b"hello world", "not a .npy"),
    (b"", "empty"),
])
def test_malformed_inputs_are_refused_with_a_clear_message(data, message):
    with pytest.raises(InputError, match=message):
        read_tensors(data)


def pt_bytes(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


class _Code:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.mark.parametrize("obj, message", [
    ({"a": _Code()}, "weights_only"),
    ({"a": torch.zeros(2, dtype=torch.int64)}, "dtype int64"),
    ({"a": 3}, "not a tensor"),
    ([torch.zeros(2)], "dict of named tensors"),
])
def test_pt_refusals(obj, message, capsys):
    with pytest.raises(InputError, match=message):
        read_tensors(pt_bytes(obj))
    assert "must never run" not in capsys.readouterr().out


def run_cli(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.run([sys.executable, "-c", "from codec.cli import main; main()", *args], cwd=cwd,
                          capture_output=True, text=True, env=env, check=False)


def test_cli_round_trip_lossless_profile_and_errors(tmp_path):
    ts = tensors()
    (tmp_path / "f.safetensors").write_bytes(write_tensors(ts, "safetensors"))
    original = (tmp_path / "f.safetensors").read_bytes()
    r = run_cli("encode", "f.safetensors", "--mode", "features", "--lossless", "-o", "x.wlc", cwd=tmp_path)
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "float16/bfloat16" in r.stderr
    assert not (tmp_path / "x.wlc").exists()
    (tmp_path / "h.pt").write_bytes(write_tensors(ts[1:], "pt"))
    assert run_cli("encode", "h.pt", "--mode", "features", "--lossless", cwd=tmp_path).returncode == 0
    assert run_cli("decode", "h.wlc", "-o", "h2.pt", cwd=tmp_path).returncode == 0
    back = read_tensors((tmp_path / "h2.pt").read_bytes())
    assert all(np.array_equal(a.bits16(), b.bits16()) for a, b in zip(ts[1:], back))

    r = run_cli("calibrate", "f.safetensors", "-o", "p.npz", "--norm", "channel", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run_cli("encode", "f.safetensors", "--mode", "features", "--norm", "channel", "--profile", "p.npz",
                "--clip", "sigma:3", cwd=tmp_path)
    assert r.returncode == 3 and "fitted for" in r.stderr
    assert run_cli("encode", "f.safetensors", "--mode", "features", "--norm", "channel", "--profile", "p.npz",
                   "--max-error", "0.01", cwd=tmp_path).returncode == 0
    r = run_cli("decode", "f.wlc", cwd=tmp_path)
    assert r.returncode == 3 and "--profile" in r.stderr and not (tmp_path / "f.safetensors.tmp").exists()
    r = run_cli("decode", "f.wlc", "--profile", "p.npz", "-o", "g.safetensors", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    for a, b in zip(ts, read_tensors((tmp_path / "g.safetensors").read_bytes())):
        assert a.name == b.name and a.dtype == b.dtype and np.abs(a.values() - b.values()).max() <= 0.01
    r = run_cli("encode", "f.safetensors", "--mode", "features", "--clip", "fixed:1", "-o", "y.wlc", cwd=tmp_path)
    assert r.returncode == 3 and "--clip" in r.stderr
    assert (tmp_path / "f.safetensors").read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.safetensors", "f.wlc", "g.safetensors", "h.pt",
                                                          "h.wlc", "h2.pt", "p.npz"]
