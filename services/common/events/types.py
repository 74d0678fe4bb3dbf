"""The event types of each service's outbox, named once: the owning service's EventStream (whose
triggers write them: each schema's events migration) and the webhooks' catalogue read them here."""

from __future__ import annotations

PROMPTS = (
    "prompt.created",
    "prompt.version_created",
    "prompt.best_changed",
    "prompt.label_moved",
    "prompt.deleted",
    "feedback.created",
)
FILES = ("file.created", "file.deleted")
EXPORTS = ("export.completed", "export.failed")
ALL = (*PROMPTS, *FILES, *EXPORTS)
