"""Values keep their Python type exactly through the server, both ways, for every type.

``type(result) is type(original)`` everywhere, except that a tuple comes back as a list (and a
list used as a dict key comes back as a tuple, the hashable equivalent).
"""
from __future__ import annotations

import math
from decimal import Decimal

import pytest

from data_bridge.kv import KvError, KvOverflowError, KvProtocolError, KvResponseError
from _kv_helpers import kv  # noqa: F401

pytestmark = pytest.mark.timeout(60)


def same(a, b) -> bool:
    """Equal, with the same types all the way down (and NaN equal to NaN, -0.0 != 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a):
            return math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, Decimal):
        return str(a) == str(b)  # same digits and exponent, not just numerically equal
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return (len(a) == len(b) and all(same(x, y) for x, y in zip(a.keys(), b.keys()))
                and all(same(a[k], b[k]) for k in a))
    return a == b


def expected(v):
    """What a value comes back as: tuples become lists (tuples stay tuples as dict keys)."""
    if isinstance(v, (list, tuple)):
        return [expected(x) for x in v]
    if isinstance(v, dict):
        return {expected_key(k): expected(x) for k, x in v.items()}
    return v


def expected_key(k):
    if isinstance(k, (list, tuple)):
        return tuple(expected_key(x) for x in k)
    return k


VALUES = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2**63 - 1,
    -2**63,
    0.0,
    1.0,
    -0.0,
    1.5,
    1e308,
    5e-324,
    0.1 + 0.2,
    float("inf"),
    float("-inf"),
    Decimal("1.10"),
    Decimal("1.1"),
    Decimal("0"),
    Decimal("-0"),
    Decimal("-0.000"),
    Decimal("1E+3"),
    Decimal("1.2E+3"),
    Decimal("0.000001"),
    Decimal("1E-7"),
    Decimal("0E-7"),
    Decimal("-123456789.987654321"),
    Decimal("1" * 38),
    Decimal("-0." + "9" * 38),
    Decimal("1." + "0" * 37),
    Decimal("1E+999999"),
    Decimal("1E-999999"),
    "",
    "plain",
    "héllo wörld ☃ 你好 😀",
    "nul\x00inside",
    "x" * 100_000,
    b"",
    b"a\x00b\xff\xfe",
    bytes(range(256)),
    [],
    [1, "a", None, 2.5, Decimal("0.10"), b"\x00"],
    (1, 2, 3),
    (),
    [[[]]],
    {},
    {"a": 1, "b": [1, 2], "c": {"d": None}},
    {1: "one", -2: "minus two", 2**63 - 1: "max"},
    {"str": 1, 2: "int", b"bytes": 3},
    {"t": (1, (2, 3))},
    {(1, 2): "tuple key"},
    {True: "bool key", None: "none key", 1.5: "float key", Decimal("2.50"): "decimal key"},
    {"z": 1, "a": 2, "m": 3},  # order kept
    {"nested": [{"deep": [1, {"deeper": (Decimal("2.50"), b"x")}]}]},
]


@pytest.mark.parametrize("value", VALUES, ids=[repr(v)[:40] for v in VALUES])
def test_round_trip(kv, value):
    kv.set("v", value)
    got = kv.get("v")
    assert same(got, expected(value)), (value, got)


@pytest.mark.parametrize("value", VALUES, ids=[repr(v)[:40] for v in VALUES])
def test_round_trip_in_batches_and_lists(kv, value):
    kv.mset({"m": value})
    assert same(kv.mget(["m"])[0], expected(value))
    kv.rpush("l", value)
    assert same(kv.lpop("l"), expected(value))
    assert same(kv.get_versioned("m")[0], expected(value))


def test_nan_float(kv):
    kv.set("nan", float("nan"))
    got = kv.get("nan")
    assert type(got) is float and math.isnan(got)


def test_float_one_stays_float_and_int_stays_int(kv):
    kv.mset({"f": 1.0, "i": 1, "b": True, "d": Decimal("1")})
    f, i, b, d = kv.mget(["f", "i", "b", "d"])
    assert (type(f), type(i), type(b), type(d)) == (float, int, bool, Decimal)


def test_str_and_bytes_stay_distinct(kv):
    kv.set("s", "abc")
    kv.set("b", b"abc")
    assert type(kv.get("s")) is str and type(kv.get("b")) is bytes


def test_bytearray_and_memoryview_stored_as_bytes(kv):
    kv.set("ba", bytearray(b"ab\x00c"))
    assert same(kv.get("ba"), b"ab\x00c")
    kv.set("mv", memoryview(b"hello"))
    assert same(kv.get("mv"), b"hello")
    kv.set("strided", memoryview(b"abcdef")[::2])  # not contiguous
    assert same(kv.get("strided"), b"ace")
    kv.set("nested", [bytearray(b"x"), {"m": memoryview(b"y")}])
    assert same(kv.get("nested"), [b"x", {"m": b"y"}])


def test_large_bytes(kv):
    blob = bytes(range(256)) * 16384  # 4 MiB
    kv.set("blob", blob)
    assert kv.get("blob") == blob


def nested(levels: int):
    v = 1
    for _ in range(levels):
        v = [v]
    return v


def test_nesting_limit(kv):
    kv.set("ok", nested(63))  # the argument array is level 1: 63 more levels fit
    assert kv.get("ok") == nested(63)
    for levels in (64, 65, 1000, 100_000):
        with pytest.raises((KvProtocolError, KvResponseError)):
            kv.set("deep", nested(levels))
    assert not kv.exists("deep")


@pytest.mark.parametrize("value", [2**63, -2**63 - 1, 2**64, -2**100, 10**40])
def test_int_beyond_64_bits_overflows_and_stores_nothing(kv, value):
    kv.set("k", "before")
    with pytest.raises(KvOverflowError) as e:
        kv.set("k", value)
    assert isinstance(e.value, OverflowError)  # also a Python OverflowError
    assert "64 bits" in str(e.value)
    assert kv.get("k") == "before"
    for container in ([1, value], {"n": value}, {value: "key"}):
        with pytest.raises(KvOverflowError):
            kv.set("k", container)
    assert kv.get("k") == "before"
    with pytest.raises(KvOverflowError):
        kv.set("new", value)
    assert not kv.exists("new")


@pytest.mark.parametrize("value", [Decimal("1" * 39), Decimal("1" + "0" * 38),
                                   Decimal("0." + "1" * 39), Decimal("1E+1000000"),
                                   Decimal("1E-1000000")])
def test_decimal_beyond_38_digits_or_exponent_is_error(kv, value):
    with pytest.raises(KvOverflowError):
        kv.set("k", value)
    assert not kv.exists("k")


@pytest.mark.parametrize("value", [Decimal("NaN"), Decimal("-NaN"), Decimal("sNaN"),
                                   Decimal("Infinity"), Decimal("-Infinity")])
def test_decimal_not_finite_is_error(kv, value):
    with pytest.raises(KvError) as e:
        kv.set("k", value)
    assert "not finite" in str(e.value)
    assert not kv.exists("k")
    with pytest.raises(KvError):
        kv.incr("n", value)
    assert not kv.exists("n")


@pytest.mark.parametrize("value", [{1, 2}, frozenset(), object(), 1j, range(3),
                                   [1, object()], {"k": {1}}])
def test_unsupported_types_are_refused(kv, value):
    with pytest.raises(KvError) as e:
        kv.set("k", value)
    assert "cannot store a value of type" in str(e.value)
    assert not kv.exists("k")


def test_lone_surrogate_str_is_refused(kv):
    with pytest.raises((UnicodeEncodeError, KvError)):
        kv.set("k", "\ud800")
    assert not kv.exists("k")


def test_subclasses_of_builtin_types(kv):
    class MyStr(str):
        pass

    class MyInt(int):
        pass

    kv.set("k", [MyStr("s"), MyInt(5)])
    assert same(kv.get("k"), ["s", 5])


def test_unicode_and_bytes_keys(kv):
    kv.set("ключ-☃", "unicode key")
    assert kv.get("ключ-☃") == "unicode key"
    kv.set(b"\x00\xff", "binary key")
    assert kv.get(b"\x00\xff") == "binary key"
    assert kv.mget(["ключ-☃", b"\x00\xff"]) == ["unicode key", "binary key"]


@pytest.mark.parametrize("key", [None, 1.5, True, Decimal("1"), ["k"], {"k": 1}])
def test_bad_key_types(kv, key):
    with pytest.raises(KvResponseError, match="key must be"):
        kv.set(key, 1)
