"""Reading and writing feature tensors: ``.npy``, ``.pt`` and ``.safetensors``.

A file holds one or more named tensors of float32, float16 or bfloat16, any shape.
``Tensor.array`` keeps the exact bits: a float32/float16 numpy array, or for bfloat16
(which numpy lacks) a uint16 array of the bit patterns. Nothing is ever unpickled
beyond what ``torch.load(weights_only=True)`` allows, declared sizes are checked against
the real byte count and the limits before anything is allocated, and every refusal is
an ``InputError`` with one line saying why.
"""

from __future__ import annotations

import io
import json
import math
import struct
from dataclasses import dataclass

import numpy as np

from codec.bitstream import MAX_NDIM, MAX_SAMPLES
from codec.errors import InputError

__all__ = ["DTYPES", "FORMATS", "MAX_TENSORS", "Tensor", "check_tensors", "format_of_suffix", "read_tensors",
           "write_tensors"]

DTYPES = ("float32", "float16", "bfloat16")
FORMATS = ("npy", "pt", "safetensors")
MAX_TENSORS = 65534          # one container chunk each, plus the tensor table
MAX_NAME_BYTES = 255
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_MAX_ST_HEADER = 100 * 2**20  # safetensors' own limit on its JSON header
_ST_DTYPES = {"F32": ("float32", 4), "F16": ("float16", 2), "BF16": ("bfloat16", 2)}
_ST_NAMES = {v[0]: k for k, v in _ST_DTYPES.items()}
SINGLE_NAME = "tensor"       # the name given to the tensor of a .npy or a bare-tensor .pt


@dataclass(frozen=True, eq=False)
class Tensor:
    """One named tensor with its exact bits (bfloat16 as uint16 patterns)."""

    name: str
    dtype: str
    array: np.ndarray

    def __post_init__(self):
        check_name(self.name)
        if self.dtype not in DTYPES:
            raise InputError(f"tensor {self.name!r}: dtype {self.dtype} is not one of {', '.join(DTYPES)}")
        storage = {"float32": np.float32, "float16": np.float16, "bfloat16": np.uint16}[self.dtype]
        if self.array.dtype != storage:
            raise ValueError(f"{self.dtype} tensor stored as {self.array.dtype}")
        check_shape(self.array.shape, self.name)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    def values(self) -> np.ndarray:
        """The values as float32 (exact for every supported dtype)."""
        if self.dtype == "bfloat16":
            return (self.array.astype(np.uint32) << 16).view(np.float32)
        return self.array.astype(np.float32)

    def bits16(self) -> np.ndarray:
        """The uint16 bit patterns of a float16 or bfloat16 tensor."""
        return self.array if self.dtype == "bfloat16" else self.array.view(np.uint16)

    @classmethod
    def from_values(cls, name: str, dtype: str, x: np.ndarray) -> Tensor:
        """Round float values to ``dtype`` (to nearest, ties to even, as torch does)."""
        x = np.asarray(x, np.float32)
        if dtype == "bfloat16":
            bits = x.view(np.uint32).astype(np.uint64)
            rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
            nan = np.isnan(x)
            rounded[nan] = (bits[nan] >> 16).astype(np.uint16) | 0x40
            return cls(name, dtype, rounded)
        return cls(name, dtype, x.astype(dtype))

    @classmethod
    def from_bits16(cls, name: str, dtype: str, bits: np.ndarray) -> Tensor:
        bits = np.asarray(bits, np.uint16)
        return cls(name, dtype, bits if dtype == "bfloat16" else bits.view(np.float16))


def check_name(name) -> None:
    if not isinstance(name, str) or not name or len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise InputError(f"tensor name {name!r} must be 1..{MAX_NAME_BYTES} bytes of UTF-8")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"tensor name {name!r} is not valid UTF-8") from None


def check_shape(shape, name: str) -> None:
    """Refuse shapes the container cannot describe (too many axes, empty, too many samples)."""
    if len(shape) > MAX_NDIM:
        raise InputError(f"tensor {name!r}: {len(shape)} dimensions, at most {MAX_NDIM}")
    if any(not isinstance(d, (int, np.integer)) or d < 0 for d in shape):
        raise InputError(f"tensor {name!r}: invalid shape {tuple(shape)}")
    if 0 in shape:
        raise InputError(f"tensor {name!r} is empty (shape {tuple(shape)})")
    if math.prod(int(d) for d in shape) > MAX_SAMPLES:
        raise InputError(f"tensor {name!r}: shape {tuple(shape)} exceeds the limit of 2**30 values")


def check_tensors(tensors: list[Tensor], what: str) -> list[Tensor]:
    if not tensors:
        raise InputError(f"{what}: holds no tensors")
    if len(tensors) > MAX_TENSORS:
        raise InputError(f"{what}: {len(tensors)} tensors, at most {MAX_TENSORS}")
    names = [t.name for t in tensors]
    if len(set(names)) != len(names):
        raise InputError(f"{what}: duplicate tensor names")
    if sum(t.array.size for t in tensors) > MAX_SAMPLES:
        raise InputError(f"{what}: more than 2**30 values in all")
    return tensors


# --- reading ----------------------------------------------------------------------------


def read_tensors(data: bytes, what: str = "input") -> list[Tensor]:
    """The tensors of a ``.npy``, ``.pt`` (zip) or ``.safetensors`` file, detected by content."""
    data = bytes(data)
    if not data:
        raise InputError(f"{what}: empty input")
    if data.startswith(_NPY_MAGIC):
        tensors = [_read_npy(data, what)]
    elif data.startswith(_ZIP_MAGIC):
        tensors = _read_pt(data, what)
    elif len(data) >= 10 and data[8:9] == b"{":
        tensors = _read_safetensors(data, what)
    elif data[:1] == b"\x80":
        raise InputError(f"{what}: a legacy (non-zip) pickle .pt file is refused; re-save it with torch.save")
    else:
        raise InputError(f"{what}: not a .npy, .pt or .safetensors file")
    return check_tensors(tensors, what)


def _read_npy(data: bytes, what: str) -> Tensor:
    f = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, SyntaxError) as exc:
        raise InputError(f"{what}: not a readable .npy header ({exc})") from None
    if dtype.hasobject:
        raise InputError(f"{what}: .npy holds Python objects (pickle), which are refused")
    if dtype.kind != "f" or dtype.itemsize not in (2, 4):
        raise InputError(f"{what}: .npy dtype {dtype} is not supported; use float32 or float16")
    check_shape(shape, SINGLE_NAME)
    need = math.prod(shape) * dtype.itemsize
    if len(data) - f.tell() != need:
        raise InputError(f"{what}: .npy declares {need} data bytes for shape {shape}, "
                         f"holds {len(data) - f.tell()}")
    try:
        a = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any failure to parse untrusted bytes is a refusal
        raise InputError(f"{what}: not a readable .npy file ({exc})") from None
    a = a.astype(dtype.newbyteorder("="), order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
    return Tensor(SINGLE_NAME, a.dtype.name, a)


def _from_torch(t, name: str, what: str) -> Tensor:
    import torch

    if t.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        raise InputError(f"{what}: tensor {name!r} has dtype {str(t.dtype)[6:]}; use float32, float16 or bfloat16")
    if t.is_sparse or t.is_quantized or t.device.type != "cpu":
        raise InputError(f"{what}: tensor {name!r} is not a dense CPU tensor")
    check_shape(tuple(t.shape), name)
    t = t.detach().contiguous()
    if t.dtype == torch.bfloat16:
        return Tensor(name, "bfloat16", t.view(torch.int16).numpy().view(np.uint16).copy())
    a = t.numpy().copy()
    return Tensor(name, a.dtype.name, a)


def _read_pt(data: bytes, what: str) -> list[Tensor]:
    import pickle

    import torch

    try:
        obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        first = next((ln for ln in lines if "Unsupported" in ln or "WeightsUnpickler" in ln),
                     lines[0] if lines else "unpickling refused")
        raise InputError(f"{what}: .pt holds Python objects or code that weights_only loading refuses "
                         f"({first[:200]})") from None
    except Exception as exc:  # noqa: BLE001 - any failure to parse untrusted bytes is a refusal
        raise InputError(f"{what}: not a readable .pt file ({type(exc).__name__}: {str(exc)[:200]})") from None
    if isinstance(obj, torch.Tensor):
        return [_from_torch(obj, SINGLE_NAME, what)]
    if isinstance(obj, dict) and obj and all(isinstance(k, str) for k in obj):
        out = []
        for k, v in obj.items():
            if not isinstance(v, torch.Tensor):
                raise InputError(f"{what}: entry {k!r} is a {type(v).__name__}, not a tensor")
            out.append(_from_torch(v, k, what))
        return out
    raise InputError(f"{what}: a .pt must hold a tensor or a dict of named tensors, not {type(obj).__name__}")


def _read_safetensors(data: bytes, what: str) -> list[Tensor]:
    (n,) = struct.unpack_from("<Q", data)
    if n > _MAX_ST_HEADER or 8 + n > len(data):
        raise InputError(f"{what}: safetensors header of {n} bytes does not fit in the file")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{what}: safetensors header is not valid JSON ({exc})") from None
    if not isinstance(header, dict):
        raise InputError(f"{what}: safetensors header is not a JSON object")
    buffer = memoryview(data)[8 + n:]
    entries = []
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data_offsets"}:
            raise InputError(f"{what}: safetensors entry {name!r} is malformed")
        dtype, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
        if dtype not in _ST_DTYPES:
            raise InputError(f"{what}: tensor {name!r} has dtype {dtype}; use F32, F16 or BF16")
        if (not isinstance(shape, list) or not all(type(d) is int for d in shape)
                or not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets)):
            raise InputError(f"{what}: safetensors entry {name!r} has an invalid shape or offsets")
        check_name(name)
        check_shape(tuple(shape), name)
        begin, end = offsets
        dname, size = _ST_DTYPES[dtype]
        if not 0 <= begin <= end <= len(buffer):
            raise InputError(f"{what}: tensor {name!r} data offsets {offsets} lie outside the data "
                             f"({len(buffer)} bytes)")
        if end - begin != math.prod(shape) * size:
            raise InputError(f"{what}: tensor {name!r} has {end - begin} bytes for shape {tuple(shape)} {dtype}")
        entries.append((begin, end, name, dname, tuple(shape)))
    covered = 0
    for begin, end, name, *_ in sorted(entries):
        if begin != covered:
            raise InputError(f"{what}: safetensors data of {name!r} overlaps or leaves a gap (offset {begin})")
        covered = end
    if covered != len(buffer):
        raise InputError(f"{what}: safetensors data has {len(buffer) - covered} bytes no tensor claims")
    out = []
    for begin, end, name, dname, shape in entries:
        storage = {"float32": "<f4", "float16": "<f2", "bfloat16": "<u2"}[dname]
        a = np.frombuffer(buffer[begin:end], storage).reshape(shape)
        out.append(Tensor(name, dname, a.astype(a.dtype.newbyteorder("="))))
    return out


# --- writing ----------------------------------------------------------------------------


def format_of_suffix(suffix: str) -> str:
    fmt = {".npy": "npy", ".pt": "pt", ".pth": "pt", ".safetensors": "safetensors"}.get(suffix.lower())
    if fmt is None:
        raise InputError(f"unknown tensor file type {suffix!r}; use .npy, .pt or .safetensors")
    return fmt


def write_tensors(tensors: list[Tensor], fmt: str) -> bytes:
    """Serialise tensors as ``fmt`` ("npy": exactly one float32/float16 tensor)."""
    if fmt == "npy":
        if len(tensors) != 1 or tensors[0].dtype == "bfloat16":
            raise InputError(".npy holds one float32 or float16 tensor; use .safetensors or .pt "
                             f"for {len(tensors)} tensors of {', '.join(sorted({t.dtype for t in tensors}))}")
        buf = io.BytesIO()
        np.save(buf, tensors[0].array, allow_pickle=False)
        return buf.getvalue()
    if fmt == "safetensors":
        header, offset = {}, 0
        for t in tensors:
            n = t.array.nbytes
            header[t.name] = {"dtype": _ST_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + n]}
            offset += n
        raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
        raw += b" " * (-len(raw) % 8)
        storage = {"float32": "<f4", "float16": "<f2", "bfloat16": "<u2"}
        return b"".join([struct.pack("<Q", len(raw)), raw]
                        + [np.ascontiguousarray(t.array, storage[t.dtype]).tobytes() for t in tensors])
    if fmt == "pt":
        import torch

        def to_torch(t: Tensor):
            if t.dtype == "bfloat16":
                return torch.from_numpy(t.array.view(np.int16).copy()).view(torch.bfloat16)
            return torch.from_numpy(t.array.copy())

        obj = (to_torch(tensors[0]) if len(tensors) == 1 and tensors[0].name == SINGLE_NAME
               else {t.name: to_torch(t) for t in tensors})
        buf = io.BytesIO()
        torch.save(obj, buf)
        return buf.getvalue()
    raise InputError(f"unknown tensor format {fmt!r}; use one of {', '.join(FORMATS)}")
