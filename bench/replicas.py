"""Replicas: REST create-prompt throughput through the gateway with one and with two processes of
each gRPC service (the gateway's round-robin channels spread the calls over both)."""

from __future__ import annotations

from bench.prompts import over_rest
from bench.stack import running_system

CLIENTS = 8


def main() -> None:
    print(f"create a prompt over REST, {CLIENTS} clients, one gateway (each figure over 4 s):")
    rates = {}
    for replicas in (1, 2):
        with running_system(replicas=replicas) as system:
            over_rest(system, CLIENTS)  # warm-up: connections, pools, caches
            result = over_rest(system, CLIENTS)
        rates[replicas] = result.rate
        print(result.line(f"{replicas} replica(s) per service"))
    print(
        f"  2 vs 1 replicas: {rates[2] / rates[1]:.0%}. On this machine's two cores the second replica"
        " adds no CPU, only processes competing for it; the figure shows the cost of the extra hop and"
        " process, not a speed-up. Replicas scale throughput where each gets cores of its own (a cluster)."
    )


if __name__ == "__main__":
    main()
