"""Replicas: REST create-prompt throughput through the gateway with one and with two processes of
each gRPC service (the gateway's round-robin channels spread the calls over both)."""

from __future__ import annotations

from bench.prompts import Result, over_rest
from bench.stack import running_system

CLIENTS = 8
ROUNDS = 3


def main() -> None:
    print(
        f"create a prompt over REST, {CLIENTS} clients, one gateway; both systems run side by side and"
        f" are measured in turns, {ROUNDS} rounds of 4 s each (the machine may be shared), median:"
    )
    with running_system(replicas=1) as one, running_system(replicas=2) as two:
        systems = {1: one, 2: two}
        for system in systems.values():
            over_rest(system, CLIENTS)  # warm-up: connections, pools, caches
        results: dict[int, list[Result]] = {1: [], 2: []}
        for _ in range(ROUNDS):
            for replicas, system in systems.items():
                results[replicas].append(over_rest(system, CLIENTS))
    rates = {}
    for replicas, runs in results.items():
        median = sorted(runs, key=lambda r: r.rate)[len(runs) // 2]
        rates[replicas] = median.rate
        print(median.line(f"{replicas} replica(s) per service"))
    ratio = rates[2] / rates[1]
    print(f"  2 vs 1 replicas: {ratio:.0%} of the throughput.")
    if ratio < 1.1:
        print(
            "  No speed-up: on this machine's two cores a second process per service adds no CPU, only"
            " a process competing for it; the figure is the cost of spreading calls, which a cluster"
            " (a core per pod) repays."
        )
    else:
        print(
            "  One process per service left a core idle (each Python process runs on one core at a"
            " time); the second uses it. This is not the cluster's scaling: with two cores the gain ends"
            " here, and the extra processes compete with the gateway and PostgreSQL for the same CPU."
        )


if __name__ == "__main__":
    main()
