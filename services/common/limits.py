"""The bounds of what a client may send, written once: the service that owns a value enforces its
bound (the same message for gRPC and REST callers), and the gateway reads the same number to state
it in its OpenAPI schema (maxLength, minimum, maximum) and to refuse a body outside it before any
call. Change a bound here and both follow.

Only numbers (and the one name form the schema states) live here, no rule: how a value is checked
stays in its service's rules module.
"""

from __future__ import annotations

# Prompts ---------------------------------------------------------------------------------------
MAX_TEXT_CHARS = 100_000  # a prompt's original text, a version's text, a scanned input
MAX_NAME_CHARS = 255  # request_id, agent_type, a version's source, the winners of a feedback
MAX_VERSIONS_PER_CREATE = 100  # versions created with their prompt in one request
MAX_EXPLANATION_BYTES = 64 * 1024  # a version's explanation, as JSON
MAX_MODEL_CONFIG_BYTES = 16 * 1024  # a version's model config, as JSON: settings, not content
SCORE_MIN, SCORE_MAX = 0, 10  # each of a judge's five criteria
RISK_MIN, RISK_MAX = 0, 1  # a security scan's risk score
MAX_LABEL_CHARS = 63  # a label's name: a lowercase letter, then lowercase letters, digits, _ or -
LABEL_NAME_PATTERN = f"[a-z][a-z0-9_-]{{0,{MAX_LABEL_CHARS - 1}}}"
# Labels one prompt holds besides the built-ins: ListLabels answers them all in one message, and a
# takeout's prompt document carries them all.
MAX_LABELS_PER_PROMPT = 100

# Accounts --------------------------------------------------------------------------------------
# Every schema stores the subject as the owner of rows in a 255-character column; a longer one, or
# one with control characters (PostgreSQL text cannot hold NUL), names no storable user (a token's
# subject, the user id of an erasure).
MAX_SUBJECT_CHARS = 255

# Exports ---------------------------------------------------------------------------------------
MAX_SOURCE_CHARS = 512  # an export's source, `datasets/temporal` or `prompts/{id}`
SHARE_LINK_DEFAULT_SECONDS = 3600
SHARE_LINK_MAX_SECONDS = 7 * 24 * 3600

# Schedules -------------------------------------------------------------------------------------
MAX_EVERY_CHARS = 255  # a schedule's `every`: hourly, daily, weekly or a cron expression
MAX_ENDPOINT_URL_CHARS = 512  # an s3 destination's endpoint_url
MAX_DESTINATION_SECRET_CHARS = 1024  # an s3 destination's access_key_id, and its secret_access_key

# Webhooks --------------------------------------------------------------------------------------
MAX_WEBHOOK_URL_CHARS = 2048
MAX_WEBHOOK_DESCRIPTION_CHARS = 256
MAX_WEBHOOK_EVENT_TYPES = 32  # entries of a subscription's `events` (repeats included, then folded)

# Chat files ------------------------------------------------------------------------------------
MAX_FILE_TYPE_CHARS = 32  # a file's `file_type` label: a-z, 0-9, then also '_', '+', '.', '-'
