"""Prometheus metrics of gRPC servers: request counts and latencies per method and status."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram


@dataclass(frozen=True)
class RpcMetrics:
    """`depot_<service>_rpc_requests_total` and `depot_<service>_rpc_duration_seconds`."""

    requests: Counter
    duration: Histogram

    @classmethod
    def for_service(cls, service: str, registry: CollectorRegistry = REGISTRY) -> RpcMetrics:
        return cls(
            requests=Counter(
                f"depot_{service}_rpc_requests_total",
                "gRPC requests handled, by method and status code.",
                ["method", "code"],
                registry=registry,
            ),
            duration=Histogram(
                f"depot_{service}_rpc_duration_seconds",
                "gRPC request latency, by method.",
                ["method"],
                registry=registry,
            ),
        )

    def observe(self, method: str, code: str, seconds: float) -> None:
        self.requests.labels(method=method, code=code).inc()
        self.duration.labels(method=method).observe(seconds)
