"""Prometheus metrics (names are contract, DESIGN §4), one registry per app."""

from __future__ import annotations

import os
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from bridge import __version__

OUTCOMES = ("ok", "bad_request", "unauthorized", "no_route", "upstream_error", "timeout",
            "rejected", "queued")
_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry(auto_describe=True)
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
        self._requests: dict[tuple[str, str], Any] = {}
        self._durations: dict[str, Any] = {}
        self._inflight: dict[str, Any] = {}
        for result in ("ok", "error"):   # alerts on increase() need the zero before the first
            self.config_reloads.labels(result)

    def request_done(self, route: str, outcome: str, seconds: float) -> None:
        """Count one request; label children are looked up once, not per request."""
        counter = self._requests.get((route, outcome))
        if counter is None:
            counter = self._requests[(route, outcome)] = self.requests.labels(route, outcome)
        counter.inc()
        histogram = self._durations.get(route)
        if histogram is None:
            histogram = self._durations[route] = self.request_duration.labels(route)
        histogram.observe(seconds)

    def inflight_for(self, route: str) -> Any:
        gauge = self._inflight.get(route)
        if gauge is None:
            gauge = self._inflight[route] = self.inflight.labels(route)
        return gauge

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

            merged = CollectorRegistry()
            multiprocess.MultiProcessCollector(merged)
            return generate_latest(merged)
        return generate_latest(self.registry)
