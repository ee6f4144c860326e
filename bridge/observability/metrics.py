"""Prometheus metrics (names are contract, DESIGN §4), one registry per app.

The per-request series (requests, request and upstream durations, in-flight) are tallied in
plain dicts and handed to prometheus-client in batches: the event loop is one thread, so the
lock and the bucket loop prometheus-client pays per observation bought nothing but a tenth of a
request's cost. A batch goes out before anything reads the registry (every scrape, every
``registry.get_sample_value``: the tally is the registry's first collector). Under ``--workers``
(prometheus-client's multiprocess mode) every worker's scrape reads the others' series from
disk, so there each request goes out at once.
"""

from __future__ import annotations

import os
from bisect import bisect_left
from typing import Any, Iterator

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics,
                               generate_latest)

from bridge import __version__

# `*_created` series (one per labelled counter and histogram) were a fifth of /metrics and no
# dashboard or alert reads them: off, process-wide, before any metric is made.
disable_created_metrics()

OUTCOMES = ("ok", "bad_request", "unauthorized", "no_route", "upstream_error", "timeout",
            "rejected", "queued")
_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _FlushFirst:
    """A collector that yields nothing: registered first, it flushes the tally before the
    registry's real collectors are read."""

    def __init__(self, metrics: "Metrics") -> None:
        self.metrics = metrics

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        self.metrics.flush()
        return iter(())


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
        r.register(_FlushFirst(self))
        self.requests = Counter("bridge_requests_total", "Requests by route and outcome",
                                ["route", "outcome"], registry=r)
        self.request_duration = Histogram("bridge_request_duration_seconds",
                                          "Time from request to reply", ["route"],
                                          buckets=_LATENCY, registry=r)
        self.upstream_requests = Counter("bridge_upstream_requests_total",
                                         "Calls to targets by HTTP status (or error kind)",
                                         ["target", "status"], registry=r)
        self.upstream_duration = Histogram("bridge_upstream_duration_seconds",
                                           "Time spent waiting on targets", ["target"],
                                           buckets=_LATENCY, registry=r)
        self.inflight = Gauge("bridge_inflight_requests", "Requests being handled", ["route"],
                              registry=r, multiprocess_mode="livesum")
        self.retries = Counter("bridge_retries_total", "Retried calls to targets", ["target"],
                               registry=r)
        self.breaker_open = Gauge("bridge_breaker_open", "1 while a target's breaker is open",
                                  ["target"], registry=r, multiprocess_mode="livemax")
        self.queue_depth = Gauge("bridge_queue_depth", "Messages waiting for delivery", ["route"],
                                 registry=r, multiprocess_mode="livemax")
        self.dead_letters = Counter("bridge_dead_letters_total", "Messages given up on", ["route"],
                                    registry=r)
        self.step_errors = Counter("bridge_step_errors_total", "Pipeline steps that failed",
                                   ["route", "step"], registry=r)
        self.config_reloads = Counter("bridge_config_reloads_total", "Config reloads by result",
                                      ["result"], registry=r)
        self.xml_recovered = Counter("bridge_xml_recovered_total",
                                     "Malformed XML repaired by `recover: true`", ["route"],
                                     registry=r)
        self.build_info = Gauge("bridge_build_info", "Version of the running bridge", ["version"],
                                registry=r, multiprocess_mode="livemax")
        self.build_info.labels(__version__).set(1)
        self._bounds = tuple(float(b) for b in _LATENCY) + (float("inf"),)
        check_batchable(self.request_duration, len(self._bounds))
        # the tally: counts and [sum, n per bucket...] not yet in the prometheus series
        self._requests: dict[tuple[str, str], int] = {}
        self._durations: dict[str, list[float]] = {}
        self._upstream: dict[tuple[str, str], int] = {}
        self._upstream_durations: dict[str, list[float]] = {}
        #: requests being handled, per route (bridge_inflight_requests at each flush)
        self.busy: dict[str, int] = {}
        self._busy_seen: set[str] = set()
        self.immediate = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        for result in ("ok", "error"):   # alerts on increase() need the zero before the first
            self.config_reloads.labels(result)

    def request_done(self, route: str, outcome: str, seconds: float) -> None:
        """Count one request with its duration (tallied; see the module docstring)."""
        self._tally(self._requests, self._durations, route, outcome, seconds)

    def upstream_done(self, target: str, status: str, seconds: float) -> None:
        """Count one call to a target, by HTTP status or error kind, with its duration."""
        self._tally(self._upstream, self._upstream_durations, target, status, seconds)

    def _tally(self, counts: dict[tuple[str, str], int], durations: dict[str, list[float]],
               name: str, label: str, seconds: float) -> None:
        key = (name, label)
        counts[key] = counts.get(key, 0) + 1
        tally = durations.get(name)
        if tally is None:
            tally = durations[name] = [0.0] * (len(self._bounds) + 1)
        tally[0] += seconds
        tally[1 + bisect_left(self._bounds, seconds)] += 1
        if self.immediate:
            self.flush()

    def started(self, route: str) -> None:
        busy = self.busy
        busy[route] = busy.get(route, 0) + 1
        if self.immediate:
            self.inflight.labels(route).inc()

    def finished(self, route: str) -> None:
        self.busy[route] -= 1
        if self.immediate:
            self.inflight.labels(route).dec()

    def in_flight(self) -> int:
        return sum(self.busy.values())

    def flush(self) -> None:
        """Hand the tally to the prometheus series."""
        if self._requests:
            pending, self._requests = self._requests, {}
            for (route, outcome), n in pending.items():
                self.requests.labels(route, outcome).inc(n)
        if self._upstream:
            pending, self._upstream = self._upstream, {}
            for (target, status), n in pending.items():
                self.upstream_requests.labels(target, status).inc(n)
        for histogram, tallies in ((self.request_duration, self._durations),
                                   (self.upstream_duration, self._upstream_durations)):
            for name, tally in tallies.items():
                if any(tally[1:]):
                    _add_observations(histogram.labels(name), tally)
                    tally[:] = [0.0] * len(tally)
        for route, n in self.busy.items():
            if self.immediate:
                break
            if n or route in self._busy_seen:
                self.inflight.labels(route).set(n)
                self._busy_seen.add(route)

    def prepare(self, routes: list[str], targets: list[str]) -> None:
        """Create the series of known routes and targets so dashboards see zeros, not gaps."""
        for route in routes:
            self.inflight.labels(route)
            self.request_duration.labels(route)
            self.queue_depth.labels(route)      # not set: a reload must not zero a live depth
            self.dead_letters.labels(route)
            for outcome in ("ok", "bad_request", "upstream_error", "timeout"):
                self.requests.labels(route, outcome)
        for target in targets:
            self.breaker_open.labels(target).set(0)
            self.retries.labels(target)
            self.upstream_duration.labels(target)

    def exposition(self) -> bytes:
        """This process's metrics; under `serve --workers N` every worker's, aggregated."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            self.flush()   # this worker's own tally; the others flush every second

            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)
            return generate_latest(merged)
        return generate_latest(self.registry)


def _add_observations(child: Any, tally: list[float]) -> None:
    """Add a tally (sum, then a count per bucket) to a histogram child in one step.

    prometheus-client has no public call for many observations at once; its children keep a
    non-cumulative value per bucket (``_buckets``) and a ``_sum`` (so since 0.4; checked by
    check_batchable() when the metrics are built, and by tests/observability)."""
    child._sum.inc(tally[0])  # noqa: SLF001
    for value, n in zip(child._buckets, tally[1:]):  # noqa: SLF001
        if n:
            value.inc(n)


def check_batchable(histogram: Histogram, buckets: int) -> None:
    child = histogram.labels("_probe")
    if len(getattr(child, "_buckets", ())) != buckets or not hasattr(child, "_sum"):
        raise RuntimeError("this prometheus-client keeps histograms differently from what "
                           "bridge.observability.metrics expects (_buckets, _sum); pin the "
                           "version in pyproject.toml")
    histogram.remove("_probe")
