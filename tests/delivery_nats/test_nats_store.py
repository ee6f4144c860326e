"""NatsStore against a real nats-server -js: the Store protocol, de-duplication, hand-over."""

from __future__ import annotations

import asyncio
import time

import pytest

from bridge.delivery import Record, open_store
from bridge.delivery.nats import NatsStore, route_token, token_route
from .conftest import settled_depth


def rec(i: int, route: str = "notify") -> Record:
    return Record(id=f"m{i:03d}", route=route, target="his", method="POST", path="/notice",
                  headers={"Content-Type": "application/json; charset=utf-8", "X-Name": "张三"},
                  body=b'{"n": %d}' % i)


@pytest.fixture
async def store(store_url: str):  # type: ignore[no-untyped-def]
    s = NatsStore(store_url)
    await s.open()
    yield s
    await s.close()


async def claim_all(store: NatsStore, n: int, timeout: float = 10.0) -> list[Record]:
    """Claim until ``n`` records arrived (fetches may return fewer than asked)."""
    got: list[Record] = []
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        got += await store.claim(n - len(got), time.time())
    return got


def test_open_store_picks_nats_and_rejects_bad_urls(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = open_store("nats://127.0.0.1:4222?stream=Q1&prefix=q1&ack_wait=5", tmp_path)
    assert isinstance(store, NatsStore)
    assert (store.opts.stream, store.opts.prefix, store.opts.ack_wait) == ("Q1", "q1", 5.0)
    with pytest.raises(ValueError, match="stream or prefix"):
        open_store("nats://127.0.0.1:4222?stream=a.b", tmp_path)
    with pytest.raises(ValueError, match="unsupported store"):
        open_store("redis://127.0.0.1", tmp_path)


def test_route_names_round_trip_through_subjects() -> None:
    for name in ("notify", "referral.apply", "has space", "a*b", "x..y", "挂号"):
        token = route_token(name)
        assert " " not in token and "*" not in token and ".." not in token
        assert token_route(token) == name


async def test_enqueue_claim_and_finish_each_way(store: NatsStore) -> None:
    assert await store.ping()
    for i in range(4):
        await store.enqueue(rec(i, route="notify" if i < 3 else "referral.apply"))
    assert await settled_depth(store, {"notify": 3, "referral.apply": 1}) == {"notify": 3, "referral.apply": 1}
    assert [r.status for r in await store.list(status="pending")] == ["pending"] * 4

    claimed = {r.id: r for r in await claim_all(store, 4)}
    assert set(claimed) == {"m000", "m001", "m002", "m003"}
    first = claimed["m000"]
    assert (first.route, first.target, first.method, first.path, first.body) == (
        "notify", "his", "POST", "/notice", b'{"n": 0}')
    assert first.headers["X-Name"] == "张三" and first.attempts == 0
    assert await store.claim(10, time.time()) == []             # nothing claimed twice
    assert {r.status for r in await store.list(status="inflight")} == {"inflight"}

    await store.delivered("m000", 200)
    await store.retry("m001", "target answered HTTP 503", time.time() + 0.3, 503)
    await store.dead("m002", "target answered HTTP 500: down", 500)
    await store.delivered("m003", 201)
    assert await settled_depth(store, {"notify": 1}) == {"notify": 1}                 # only the retry is undelivered

    (waiting,) = await store.list(status="pending")
    assert (waiting.id, waiting.attempts, waiting.last_error) == ("m001", 1, "target answered HTTP 503")
    (dead,) = await store.list(status="dead")
    assert (dead.id, dead.attempts, dead.reply_status, dead.body) == ("m002", 1, 500, b'{"n": 2}')
    delivered = await store.list(status="delivered")
    assert {r.id for r in delivered} == {"m000", "m003"}
    assert [r.id for r in await store.list(status="delivered", route="referral.apply")] == ["m003"]
    assert {r.id for r in await store.list()} == {"m000", "m001", "m002", "m003"}
    got = await store.get("m002")
    assert got is not None and got.status == "dead" and got.last_error == "target answered HTTP 500: down"
    got = await store.get("m000")
    assert got is not None and got.status == "delivered" and got.reply_status == 200
    assert await store.get("nope") is None

    (again,) = await claim_all(store, 1)                        # the nak's delay has passed
    assert (again.id, again.attempts) == ("m001", 1)
    assert [r.status for r in await store.list(route="notify", status="inflight")] == ["inflight"]
    await store.delivered("m001", 200)
    assert await settled_depth(store, {}) == {}


async def test_replay_puts_dead_letters_back_with_the_same_id(store: NatsStore) -> None:
    for i in range(3):
        await store.enqueue(rec(i, route="a" if i < 2 else "b"))
    for r in await claim_all(store, 3):
        await store.dead(r.id, "no", 500)
    assert await settled_depth(store, {}) == {}
    assert await store.replay(route="b") == 1
    assert await store.replay(ids=["m000"]) == 1
    assert [r.id for r in await store.list(status="dead")] == ["m001"]
    back = {r.id: r for r in await claim_all(store, 2)}
    assert set(back) == {"m000", "m002"}
    assert all(r.attempts == 0 for r in back.values())          # attempts start over
    assert await store.replay() == 1 and await store.list(status="dead") == []


async def test_same_message_id_is_stored_once(store: NatsStore) -> None:
    await store.enqueue(rec(7))
    await store.enqueue(rec(7))                                 # a re-sent publish: de-duplicated
    assert await settled_depth(store, {"notify": 1}) == {"notify": 1}


async def test_closing_hands_claims_to_another_instance(store_url: str) -> None:
    one, two = NatsStore(store_url), NatsStore(store_url)
    await one.open()
    await two.open()
    try:
        await one.enqueue(rec(1))
        assert [r.id for r in await claim_all(one, 1)] == ["m001"]
        assert await two.claim(5, time.time()) == []            # one owns it
        await one.close()                                       # graceful: nak, no ack_wait
        (taken,) = await claim_all(two, 1)
        assert (taken.id, taken.attempts) == ("m001", 1)
        await two.delivered(taken.id, 200)
        assert await settled_depth(two, {}) == {}
    finally:
        await two.close()


async def test_an_abandoned_claim_returns_after_ack_wait(store_url: str) -> None:
    """A dead instance never acks: JetStream redelivers after ack_wait (2 s here)."""
    one, two = NatsStore(store_url), NatsStore(store_url)
    await one.open()
    await two.open()
    try:
        await one.enqueue(rec(2))
        assert [r.id for r in await claim_all(one, 1)] == ["m002"]
        assert one._keepalive is not None
        one._keepalive.cancel()                                  # it stops answering
        one._held.clear()                                        # and never acks or naks
        assert await one.recover() == 0
        (taken,) = await claim_all(two, 1, timeout=15)
        assert (taken.id, taken.attempts) == ("m002", 1)
    finally:
        await one.close()
        await two.close()


async def test_a_slow_delivery_keeps_its_claim(store_url: str) -> None:
    """The keep-alive (+WPI) stops JetStream from handing a claim to another instance while the
    owner is alive, however long the target takes."""
    one, two = NatsStore(store_url), NatsStore(store_url)
    await one.open()
    await two.open()
    try:
        await one.enqueue(rec(3))
        assert [r.id for r in await claim_all(one, 1)] == ["m003"]
        deadline = time.monotonic() + 4.5                        # over twice ack_wait
        while time.monotonic() < deadline:
            assert await two.claim(5, time.time()) == []
            await asyncio.sleep(0.2)
        await one.delivered("m003", 200)
    finally:
        await one.close()
        await two.close()

