"""Seeded differential test: the same random RESP command sequences go to Debian's redis-server
(7.0) and to our server (4 shards), and every reply must be the same (see redis_diff.py for
what "the same" means, and for its ALLOWLIST of intended divergences and KNOWN_BUGS).

A failure names the seed, the command's index, the command, both replies and a short command
sequence that reproduces it on an empty keyspace. For longer runs:
``python bindings/python/tests/redis_diff.py --seed 1 --seeds 20 --ops 20000``.
"""
from __future__ import annotations

import os
import shutil
from typing import Iterator

import pytest
import redis_diff as rd
from conftest import server_binary

pytestmark = pytest.mark.slow

SEEDS = [int(s) for s in os.environ.get("DBKV_DIFF_SEEDS", "1,2,3").split(",")]
OPS = int(os.environ.get("DBKV_DIFF_OPS", "3000"))


@pytest.fixture(scope="module")
def servers() -> Iterator[rd.ServerPair]:
    redis = shutil.which("redis-server")
    if redis is None:
        pytest.skip("redis-server is not installed (scripts/setup.sh installs it)")
    pair = rd.ServerPair(server_binary(), redis, shards=4)
    yield pair
    codes = pair.stop()
    assert all(code == 0 for code in codes.values()), codes


@pytest.mark.parametrize("proto", [2, 3], ids=["resp2", "resp3"])
@pytest.mark.parametrize("seed", SEEDS)
def test_replies_match_redis(servers: rd.ServerPair, seed: int, proto: int) -> None:
    res = rd.run_seed(servers, seed, OPS, proto, shrink_failures=2)
    assert res.compared >= OPS
    assert not res.failures, "divergences from Redis not in ALLOWLIST or KNOWN_BUGS:\n" + (
        rd.report([res]))


@pytest.mark.parametrize("rule", rd.KNOWN_BUGS, ids=[r.name for r in rd.KNOWN_BUGS])
def test_known_bug_still_reproduces(servers: rd.ServerPair, rule: rd.Rule) -> None:
    """Fails once a known bug is fixed: then remove its entry from KNOWN_BUGS."""
    assert rule.repro, "a KNOWN_BUGS entry needs a repro"
    d = rd.check_repro(servers, rule, proto=2)
    assert d is not None, f"no longer diverges, remove it from KNOWN_BUGS: {rule.name}"


def test_harness_reports_and_shrinks(servers: rd.ServerPair,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness itself: with KNOWN_BUGS emptied, a known divergence fails the run at its
    index and shrinks to the one command that shows it."""
    monkeypatch.setattr(rd, "KNOWN_BUGS", [])
    ops = [rd.Op((b"SET", b"a", b"1"), (b"a",)), rd.Op((b"RPUSH", b"l", b"x"), (b"l",)),
           rd.Op((b"INCRBYFLOAT", b"l", b"abc"), (b"l",)), rd.Op((b"GET", b"a"), (b"a",))]
    res = rd.run_ops(servers, ops, seed=0, proto=2)
    assert res.compared == 4
    [d] = res.failures
    assert d.index == 2
    assert rd.error_text(d.redis).startswith("WRONGTYPE")
    assert rd.error_text(d.ours) == "ERR value is not a valid float"
    assert rd.shrink(servers, ops, d) == [ops[1], ops[2]]
    assert "INCRBYFLOAT l abc" in d.describe()


def test_harness_catches_state_divergence(servers: rd.ServerPair,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the resync after a tolerated divergence (GETSET of a list: ours overwrites it,
    Redis refuses), the keyspace check reports the difference, shrunk to what causes it."""
    monkeypatch.setattr(rd.Session, "resync", lambda self, op: None)
    ops = [rd.Op((b"SET", b"a", b"1"), (b"a",)), rd.Op((b"RPUSH", b"l", b"x"), (b"l",)),
           rd.Op((b"GET", b"a"), (b"a",)), rd.Op((b"GETSET", b"l", b"v"), (b"l",)),
           rd.Op((b"GET", b"a"), (b"a",))]
    res = rd.run_ops(servers, ops, seed=0, proto=2)
    [d] = res.failures
    assert d.outcome == "state" and d.index == 4
    assert rd.shrink(servers, ops, d) == [ops[1], ops[3]]
