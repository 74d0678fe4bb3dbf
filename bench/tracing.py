"""Tracing benchmark: REST create-prompt throughput with tracing off (no OTEL_* set: no SDK, nothing
instrumented) and on (every process exporting its spans over OTLP/gRPC to a receiver here), every
trace and 1 in 10. The three systems run side by side and take turns, so a busy machine slows each
of them alike; each figure is the median of its turns."""

from __future__ import annotations

import contextlib
import statistics

from bench.prompts import Result, over_rest
from bench.stack import running_system
from tests.support.otlp import otlp_receiver

CLIENTS = 8
ROUNDS = 3
SAMPLED = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}


def main() -> None:
    print(
        f"create a prompt with one version over REST, {CLIENTS} clients "
        f"(each figure the median of {ROUNDS} turns of 4 s):"
    )
    with contextlib.ExitStack() as stack:
        receiver = stack.enter_context(otlp_receiver(keep=False))
        sampled = stack.enter_context(otlp_receiver(keep=False))
        systems = {
            "tracing off": stack.enter_context(running_system()),
            "tracing on, every trace": stack.enter_context(
                running_system(OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint)
            ),
            "tracing on, 1 trace in 10": stack.enter_context(
                running_system(OTEL_EXPORTER_OTLP_ENDPOINT=sampled.endpoint, **SAMPLED)
            ),
        }
        for system in systems.values():
            over_rest(system, CLIENTS)  # warm-up: connections, compiled statements
        results: dict[str, list[Result]] = {label: [] for label in systems}
        for _ in range(ROUNDS):
            for label, system in systems.items():
                results[label].append(over_rest(system, CLIENTS))
        spans = {"tracing on, every trace": receiver.count, "tracing on, 1 trace in 10": sampled.count}
    medians = {label: statistics.median(r.rate for r in runs) for label, runs in results.items()}
    off = medians["tracing off"]
    for label, runs in results.items():
        median = sorted(runs, key=lambda r: r.rate)[len(runs) // 2]
        extra = f" = {medians[label] / off:.0%} of off ({spans[label]:,} spans)" if label in spans else ""
        print(median.line(label) + extra)
    print("  tracing off loads no SDK and instruments nothing (the same code path as before tracing)")


if __name__ == "__main__":
    main()
