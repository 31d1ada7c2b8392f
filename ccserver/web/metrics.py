"""Prometheus metrics, one registry per application (tests build many apps in one process)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    request_seconds: Histogram
    ws_connections: Gauge
    ws_rejected: Counter
    queue_waiting: Gauge
    queue_longest_wait: Gauge
    agents_by_state: Gauge
    outbox_pending: Gauge
    ami_connected: Gauge
    ami_bad_frames: Counter
    interactions: Counter

    @classmethod
    def create(cls) -> Metrics:
        r = CollectorRegistry()
        return cls(
            registry=r,
            requests=Counter(
                "ccserver_http_requests", "HTTP requests", ["method", "route", "status"], registry=r
            ),
            request_seconds=Histogram(
                "ccserver_http_request_seconds", "HTTP request latency", ["route"], registry=r
            ),
            ws_connections=Gauge(
                "ccserver_ws_connections", "Open WebSocket connections", ["role"], registry=r
            ),
            ws_rejected=Counter(
                "ccserver_ws_rejected_messages",
                "WebSocket messages rejected",
                ["reason"],
                registry=r,
            ),
            queue_waiting=Gauge(
                "ccserver_queue_waiting", "Interactions waiting per queue", ["queue"], registry=r
            ),
            queue_longest_wait=Gauge(
                "ccserver_queue_longest_wait_seconds",
                "Longest current wait per queue",
                ["queue"],
                registry=r,
            ),
            agents_by_state=Gauge("ccserver_agents", "Agents per state", ["state"], registry=r),
            outbox_pending=Gauge(
                "ccserver_outbox_pending", "Records waiting in the durable outbox", registry=r
            ),
            ami_connected=Gauge(
                "ccserver_ami_connected", "1 when the AMI connection is up", registry=r
            ),
            ami_bad_frames=Counter(
                "ccserver_ami_bad_frames", "Malformed AMI frames skipped", registry=r
            ),
            interactions=Counter(
                "ccserver_interactions", "Interactions created", ["channel"], registry=r
            ),
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)


METRICS = web.AppKey("metrics", Metrics)


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    metrics = request.app[METRICS]
    resource = request.match_info.route.resource
    route = resource.canonical if resource is not None else "unmatched"
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as e:
        status = e.status
        raise
    finally:
        metrics.requests.labels(request.method, route, str(status)).inc()
        metrics.request_seconds.labels(route).observe(time.perf_counter() - started)


async def metrics_view(request: web.Request) -> web.Response:
    body = request.app[METRICS].render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
