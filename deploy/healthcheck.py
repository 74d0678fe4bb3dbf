"""A container health check: `python deploy/healthcheck.py prompts|files|exports|gateway`.

Asks the process in this container on 127.0.0.1: gRPC health (`grpc.health.v1`, overall status)
for a service, GET /healthz for the gateway. The port is the one the process listens on, read from
the same DEPOT_* variables with the same defaults. Exit 0 when healthy, 1 otherwise. Kubernetes
probes the same endpoints natively; compose has no gRPC probe, hence this file.
"""

from __future__ import annotations

import os
import sys
import urllib.request

PORTS = {"prompts": 50051, "files": 50052, "exports": 50053, "gateway": 8080}
PORT_VARIABLES = {"gateway": "DEPOT_HTTP_PORT"}


def port_of(target: str) -> int:
    """The port `depot serve <target>` listens on in this environment."""
    variable = PORT_VARIABLES.get(target, f"DEPOT_{target.upper()}_PORT")
    return int(os.environ.get(variable) or PORTS[target])


def healthy(target: str, *, timeout: float = 3.0) -> bool:
    """Whether the target answers healthy on 127.0.0.1."""
    port = port_of(target)
    if target == "gateway":
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=timeout) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in PORTS:
        sys.exit(f"usage: {sys.argv[0]} {'|'.join(PORTS)}")
    sys.exit(0 if healthy(sys.argv[1]) else 1)
