"""Which content codings a client accepts (RFC 9110 §12.5.3), for the exports service to choose
between sending stored gzip bytes as they are and decoding them on the way."""

from __future__ import annotations

from fastapi import Request

# The codings the exports service can store; a client's others do not matter.
SERVED_CODINGS = ("gzip",)


def accepted_codings(request: Request) -> list[str]:
    """The served codings the request's Accept-Encoding allows (`gzip;q=0` refuses gzip; `*` stands
    for every coding not named)."""
    weights: dict[str, float] = {}
    for item in request.headers.get("accept-encoding", "").split(","):
        name, _, parameters = item.partition(";")
        name = name.strip().lower()
        if name:
            weights[name] = _quality(parameters)
    wildcard = weights.get("*", 0.0)
    return [coding for coding in SERVED_CODINGS if weights.get(coding, wildcard) > 0]


def _quality(parameters: str) -> float:
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value.strip())
            except ValueError:
                return 0.0
    return 1.0
