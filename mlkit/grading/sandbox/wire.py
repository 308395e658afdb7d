"""The data format between the grader and the student process: plain data only, nothing that can run code.

Both sides of the grading boundary (`mlkit.grading.kernel.boundary` in the grader,
`mlkit.grading.sandbox.server` in the sandbox) speak it, so this module needs only
the standard library and NumPy, and it never imports anything by name from
a message: no pickle, no eval, no class looked up from text.

What counts as data, encoded by value:
    None, bool, int (bounded), float, complex, str            exact types, no subclasses
    NumPy scalars and ndarrays of bool, integer, float or     exact types; never object, string
    complex dtype                                             or structured dtypes
    list, tuple, dict (keys: str, int, float, bool, None)      bounded in size and depth, no cycles
Everything else crosses as a *handle*: a number naming an object that stays
on the side where it lives.  `Handle(side_id)` is an object of the sender;
`Ref(side_id)` names an object of the receiver (one it handed out before);
`Method(side_id, name)` is a bound method of a sender's object.
Each side numbers what it hands out in one `HandleTable`.

A frame is an 8-byte big-endian length followed by the encoded value.  The
decoder refuses frames over `MAX_FRAME` bytes, nesting over `MAX_DEPTH`,
containers over `MAX_ITEMS` entries, and anything malformed, with `WireError`.
"""

from __future__ import annotations

import math
import os
import struct

import numpy as np

MAX_FRAME = 256 * 1024**2        # bytes in one message
MAX_DEPTH = 64                   # nesting of lists, tuples and dicts
MAX_ITEMS = 1_000_000            # entries in all containers of one message
MAX_INT_DIGITS = 400             # a Python int beyond this is not data a test needs
MAX_NDIM = 32

_DATA_KINDS = "biufc"
_SCALAR_TYPES = {np.dtype(t).type for t in (
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
    "float16", "float32", "float64", "longdouble", "complex64", "complex128", "clongdouble")}


class WireError(Exception):
    """A message that is not valid data: malformed, too large, too deep."""


class Handle:
    """An object that lives on the side that sent it."""

    __slots__ = ("id",)

    def __init__(self, id: int):
        self.id = id

    def __repr__(self):
        return f"{type(self).__name__}({self.id})"

    def __eq__(self, other):
        return type(other) is type(self) and other.id == self.id

    def __hash__(self):
        return hash((type(self).__name__, self.id))


class Ref(Handle):
    """An object that lives on the side receiving the message (it handed this id out)."""

    __slots__ = ()


class HandleTable:
    """The objects one side has handed the other as handles, each under one number for as long as the table
    lives (it keeps them alive, so a number is never reused for another object). Both sides keep one: the
    grader's kernel for the test objects it hands student code, the server for the student objects it hands
    the grader."""

    def __init__(self):
        self.objects: dict[int, object] = {}   # number -> object
        self.numbers: dict[int, int] = {}      # id(object) -> number

    def number(self, obj) -> int:
        """The number `obj` is handed over as (a new one the first time)."""
        number = self.numbers.get(id(obj))
        if number is None:
            number = len(self.objects) + 1
            self.objects[number] = obj
            self.numbers[id(obj)] = number
        return number

    def holds(self, obj) -> bool:
        """Whether `obj` itself was handed over."""
        return id(obj) in self.numbers

    def get(self, number: int):
        """The object handed over as `number`; raises WireError if none was."""
        if number not in self.objects:
            raise WireError(f"no object was handed over as {number}")
        return self.objects[number]


class Method:
    """A bound method `name` of the sender's object `id`."""

    __slots__ = ("id", "name")

    def __init__(self, id: int, name: str):
        self.id, self.name = id, name

    def __repr__(self):
        return f"Method({self.id}, {self.name!r})"

    def __eq__(self, other):
        return type(other) is Method and (other.id, other.name) == (self.id, self.name)

    def __hash__(self):
        return hash(("Method", self.id, self.name))


def is_data_array(value) -> bool:
    return (type(value) is np.ndarray and value.dtype.kind in _DATA_KINDS and value.dtype.fields is None
            and value.dtype.subdtype is None)


def is_data_scalar(value) -> bool:
    return type(value) in _SCALAR_TYPES


_U64, _I64, _U32, _F64, _C128, _METHOD = (struct.Struct(f) for f in (">Q", ">q", ">I", ">d", ">dd", ">QH"))


# -- encoding -------------------------------------------------------------------------------------


def encode(value, to_wire, max_bytes: int = MAX_FRAME) -> bytes:
    """`value` as bytes.  `to_wire(obj)` is called for each non-data object and must return
    a Handle, Ref or Method (it registers the object in the sender's table)."""
    out: list[bytes] = []
    size = [0]

    def emit(piece: bytes) -> None:
        size[0] += len(piece)
        if size[0] > max_bytes:
            raise WireError(f"the message is larger than {max_bytes} bytes")
        out.append(piece)

    def one(item, depth: int, path: set) -> None:
        kind = type(item)
        if item is None:
            emit(b"N")
        elif kind is bool:
            emit(b"T" if item else b"F")
        elif kind is int:
            if -(2**63) <= item < 2**63:
                emit(b"i" + _I64.pack(item))
            else:
                text = str(item).encode() if item.bit_length() < 4 * MAX_INT_DIGITS else b""
                if not text or len(text) > MAX_INT_DIGITS:
                    return ref(item)
                emit(b"I" + _U32.pack(len(text)) + text)
        elif kind is float:
            emit(b"f" + _F64.pack(item))
        elif kind is complex:
            emit(b"c" + _C128.pack(item.real, item.imag))
        elif kind is str:
            data = item.encode("utf-8", "surrogatepass")
            emit(b"s" + _U64.pack(len(data)) + data)
        elif is_data_scalar(item):
            dtype = item.dtype.str.encode()
            emit(b"g" + bytes([len(dtype)]) + dtype + item.tobytes())
        elif is_data_array(item):
            if item.ndim > MAX_NDIM or item.nbytes + size[0] > max_bytes:
                return ref(item)
            dtype = item.dtype.str.encode()
            emit(b"a" + bytes([len(dtype)]) + dtype + bytes([item.ndim]) + struct.pack(f">{item.ndim}Q", *item.shape))
            emit(np.ascontiguousarray(item).tobytes())
        elif kind in (list, tuple, dict):
            if id(item) in path or depth >= MAX_DEPTH or len(item) > MAX_ITEMS:
                return ref(item)
            path.add(id(item))
            try:
                if kind is dict:
                    if not all(type(k) in (str, int, float, bool) or k is None for k in item):
                        return ref(item)
                    emit(b"d" + _U64.pack(len(item)))
                    for key, entry in item.items():
                        one(key, depth + 1, path)
                        one(entry, depth + 1, path)
                else:
                    emit((b"l" if kind is list else b"t") + _U64.pack(len(item)))
                    for entry in item:
                        one(entry, depth + 1, path)
            finally:
                path.discard(id(item))
        elif kind in (Handle, Ref):
            emit((b"h" if kind is Handle else b"r") + _U64.pack(item.id))
        elif kind is Method:
            name = item.name.encode()
            emit(b"m" + _METHOD.pack(item.id, len(name)) + name)
        else:
            ref(item)

    def ref(item) -> None:
        marker = to_wire(item)
        if type(marker) not in (Handle, Ref, Method):
            raise TypeError("to_wire must return a Handle, Ref or Method")
        one(marker, 0, set())

    one(value, 0, set())
    return b"".join(out)


# -- decoding -------------------------------------------------------------------------------------


class _Reader:
    __slots__ = ("data", "at", "end", "items")

    def __init__(self, data: bytes):
        self.data = bytes(data)
        self.at = 0
        self.end = len(self.data)
        self.items = 0

    def take(self, count: int) -> bytes:
        at = self.at
        if count < 0 or at + count > self.end:
            raise WireError("the message ends early")
        self.at = at + count
        return self.data[at:at + count]

    def unpack(self, layout: struct.Struct):
        at = self.at
        if at + layout.size > self.end:
            raise WireError("the message ends early")
        self.at = at + layout.size
        return layout.unpack_from(self.data, at)

    def byte(self) -> int:
        at = self.at
        if at >= self.end:
            raise WireError("the message ends early")
        self.at = at + 1
        return self.data[at]


def _dtype(reader: _Reader) -> np.dtype:
    length = reader.byte()
    text = reader.take(length).decode("ascii", "replace")
    dtype = _DTYPES.get(text)
    if dtype is not None:
        return dtype
    if len(text) < 2 or text[0] not in "<>|=" or text[1] not in _DATA_KINDS or not text[2:].isdigit():
        raise WireError(f"not a numeric dtype: {text!r}")
    dtype = np.dtype(text)
    if dtype.kind not in _DATA_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise WireError(f"not a numeric dtype: {text!r}")
    return dtype


# The dtypes data arrays have, by their text: looked up, not parsed, on the common path.
_DTYPES = {np.dtype(t).str: np.dtype(t) for t in _SCALAR_TYPES}
_SHAPES = [struct.Struct(f">{ndim}Q") for ndim in range(MAX_NDIM + 1)]


def decode(data: bytes, from_wire):
    """The value in `data`; `from_wire(marker)` turns each Handle / Ref / Method into a local object."""
    reader = _Reader(data)
    value = _value(reader, 0, from_wire)
    if reader.at != reader.end:
        raise WireError("trailing bytes after the message")
    return value


_N, _T, _F, _i, _I, _f, _c, _s, _g, _a, _l, _t, _d, _h, _r, _m = b"NTFiIfcsgaltdhrm"


def _value(reader: _Reader, depth: int, from_wire):
    if depth > MAX_DEPTH:
        raise WireError(f"nested deeper than {MAX_DEPTH} levels")
    tag = reader.byte()
    if tag == _s:
        (length,) = reader.unpack(_U64)
        try:
            return reader.take(length).decode("utf-8", "surrogatepass")
        except UnicodeDecodeError as error:
            raise WireError(f"a malformed string ({error.reason})") from None
    if tag == _l or tag == _t or tag == _d:
        (count,) = reader.unpack(_U64)
        reader.items += count
        if reader.items > MAX_ITEMS or count > reader.end:
            raise WireError(f"more than {MAX_ITEMS} entries")
        if tag == _d:
            result = {}
            for _ in range(count):
                key = _value(reader, depth + 1, from_wire)
                if not (type(key) in (str, int, float, bool) or key is None):
                    raise WireError("a dictionary key that is not a plain scalar")
                result[key] = _value(reader, depth + 1, from_wire)
            return result
        entries = [_value(reader, depth + 1, from_wire) for _ in range(count)]
        return entries if tag == _l else tuple(entries)
    if tag == _N:
        return None
    if tag == _T:
        return True
    if tag == _F:
        return False
    if tag == _i:
        return reader.unpack(_I64)[0]
    if tag == _f:
        return reader.unpack(_F64)[0]
    if tag == _a:
        dtype = _dtype(reader)
        ndim = reader.byte()
        if ndim > MAX_NDIM:
            raise WireError("an array with too many dimensions")
        shape = reader.unpack(_SHAPES[ndim])
        count = math.prod(shape)
        if count * dtype.itemsize > MAX_FRAME:
            raise WireError("an array larger than a message")
        buffer = bytearray(reader.take(count * dtype.itemsize))
        return np.frombuffer(buffer, dtype=dtype).reshape(shape)
    if tag == _g:
        dtype = _dtype(reader)
        return np.frombuffer(reader.take(dtype.itemsize), dtype=dtype)[0]
    if tag == _I:
        (length,) = reader.unpack(_U32)
        if length > MAX_INT_DIGITS:
            raise WireError("an integer with too many digits")
        text = reader.take(length).decode("ascii", "replace")
        if not (text.lstrip("-").isdigit() and text.isascii()):
            raise WireError("a malformed integer")
        return int(text)
    if tag == _c:
        real, imag = reader.unpack(_C128)
        return complex(real, imag)
    if tag == _h or tag == _r:
        (number,) = reader.unpack(_U64)
        return from_wire(Handle(number) if tag == _h else Ref(number))
    if tag == _m:
        number, length = reader.unpack(_METHOD)
        name = reader.take(length).decode("utf-8", "replace")
        if not name.isidentifier():
            raise WireError("a method name that is not an identifier")
        return from_wire(Method(number, name))
    raise WireError(f"unknown tag {bytes([tag])!r}")


# -- framing --------------------------------------------------------------------------------------


def write_frame(fd: int, payload: bytes) -> None:
    data = memoryview(struct.pack(">Q", len(payload)) + payload)
    while data:
        written = os.write(fd, data)
        data = data[written:]


def read_exactly(fd: int, count: int, wait=None) -> bytes:
    """`count` bytes from `fd`; `wait()` is called before each read and may raise (a deadline)."""
    parts, remaining = [], count
    while remaining:
        if wait is not None:
            wait()
        piece = os.read(fd, min(remaining, 1 << 20))
        if not piece:
            raise EOFError("the other side closed the link")
        parts.append(piece)
        remaining -= len(piece)
    return b"".join(parts)


def read_frame(fd: int, wait=None, max_bytes: int = MAX_FRAME) -> bytes:
    (length,) = struct.unpack(">Q", read_exactly(fd, 8, wait))
    if length > max_bytes:
        raise WireError(f"a message of {length} bytes, more than the limit of {max_bytes}")
    return read_exactly(fd, length, wait)
