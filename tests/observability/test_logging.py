"""PII masking (the per-request log line itself is tested end to end in tests/e2e/test_logging.py)."""

from __future__ import annotations

import orjson

from bridge.observability.logging import PiiMasker, mask

ID_NO = "330683199001011234"
PHONE = "13400001234"
NAME = "张三丰"


def test_mask_keeps_ends_only() -> None:
    assert mask(ID_NO) == "3" + "*" * 16 + "4"
    assert mask("张三") == "**"
    assert mask("") == ""


def test_masker_walks_nested_events_and_extra_keys() -> None:
    masker = PiiMasker(extra=["secretField"])
    event = {"event": "x", "body": {"sfzh": ID_NO, "items": [{"phoneNum": PHONE}], "ok": "keep"},
             "secretField": "abcdef"}
    out = masker(None, "info", event)
    text = orjson.dumps(out).decode()
    assert ID_NO not in text and PHONE not in text and "abcdef" not in text
    assert out["body"]["ok"] == "keep"


# ---- the line writer: one write per event-loop turn, nothing lost ---------------------------

import asyncio  # noqa: E402
import io  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402

from bridge.observability.logging import LineWriter, UtcTimestamp  # noqa: E402


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    @property
    def writes(self) -> int:
        return len(self.sizes)

    def write(self, s: str) -> int:
        self.sizes.append(len(s))
        return super().write(s)


async def test_lines_of_one_loop_turn_go_out_in_one_write_by_the_next_turn() -> None:
    stream = CountingStream()
    writer = LineWriter(stream)
    for i in range(50):
        writer.msg(f'{{"n": {i}}}')
    assert stream.getvalue() == ""                 # not yet: the turn is still running
    await asyncio.sleep(0)
    assert stream.getvalue().splitlines() == [f'{{"n": {i}}}' for i in range(50)]
    assert stream.writes == 1


async def test_a_large_turn_is_cut_at_line_boundaries_below_pipe_buf() -> None:
    stream = CountingStream()
    writer = LineWriter(stream)
    lines = [("x" * 299) + str(i % 10) for i in range(100)]   # 30 KB
    for line in lines:
        writer.msg(line)
    await asyncio.sleep(0)
    assert stream.getvalue().splitlines() == lines            # whole lines, in order
    assert stream.writes > 1
    assert max(stream.sizes) <= LineWriter.CHUNK                 # each write is atomic on a pipe


def test_outside_a_loop_each_line_is_written_at_once() -> None:
    stream = io.StringIO()
    writer = LineWriter(stream)
    writer.msg("one")
    assert stream.getvalue() == "one\n"


async def test_explicit_flush_empties_the_buffer_and_a_closed_stream_is_not_an_error() -> None:
    stream = io.StringIO()
    writer = LineWriter(stream)
    writer.msg("pending")
    writer.flush()                                  # what atexit does
    assert stream.getvalue() == "pending\n"
    stream.close()
    writer.msg("after close")
    writer.flush()                                  # no exception at interpreter exit


def test_timestamp_is_iso_utc_with_microseconds_and_follows_the_clock() -> None:
    stamp = UtcTimestamp()
    first = stamp(None, "info", {})["timestamp"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", first)
    want = time.strftime("%Y-%m-%dT%H:%M", time.gmtime())
    assert first[:16] == want or time.gmtime().tm_sec == 0      # the minute we are in
    time.sleep(1.05)
    later = stamp(None, "info", {})["timestamp"]
    assert later > first and later[:19] != first[:19]            # a new second is formatted anew


def test_the_request_logger_keeps_structlog_semantics() -> None:
    """The info fast path (observability.logging.wrapper_class): bound context first, then the
    keywords, then the event; %-interpolation; DropEvent drops; capture_logs still captures."""
    import io
    import json

    import structlog

    from bridge.observability.logging import configure

    out = io.StringIO()
    configure("info", stream=out)
    log = structlog.get_logger("bridge").bind(route="r")
    log.info("n=%d", 3, status=200)
    log.debug("not written")
    line = json.loads(out.getvalue().splitlines()[-1])
    assert list(line)[:3] == ["route", "status", "event"]
    assert line["event"] == "n=3" and line["level"] == "info"
    with structlog.testing.capture_logs() as captured:
        structlog.get_logger("bridge").info("request", route="x")
    assert captured == [{"route": "x", "event": "request", "log_level": "info"}]
