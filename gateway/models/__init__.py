"""The REST surface's bodies, one module per domain: request models, and response models built from
the services' protobuf messages by `from_proto`. Routes answer with these models, so /openapi.json
documents exactly what is sent."""
