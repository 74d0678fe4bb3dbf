"""Generated accounts for the round-trip property: many prompts with branching lineage, scored and
unscored, labelled, unicode everywhere, feedback, repeated scans, files from 0 bytes to a few MiB."""

from __future__ import annotations

import json
import random
from typing import Any

from tests.support.system import User
from tests.takeout.support import SCORE_NAMES, put_file, set_label

ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz ",
    "äöüßéèêçñ ",
    "日本語のテキスト ",
    "עברית ועربية ",
    "🙂🚀✓∑∫ ",
    "e\u0301a\u0308 ",  # combining marks
    '"\\<>&{{ }}=+-@\t\n',  # quoting, templates, formula-looking characters
]
LABEL_NAMES = ["production", "staging", "canary_2"]


def text(rng: random.Random, low: int = 1, high: int = 60) -> str:
    alphabet = "".join(rng.sample(ALPHABETS, 2))
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high))).strip() or "x"


def account(user: User, *, seed: int, prompts: int, file_bytes: int) -> dict[str, int]:
    """Fills `user`'s account; returns how many of each kind it made."""
    rng = random.Random(seed)
    made = {"prompts": 0, "labels": 0, "feedback": 0, "security_scans": 0, "files": 0, "artifacts": 0}
    for n in range(prompts):
        versions: list[dict[str, Any]] = []
        for k in range(1, rng.randint(0, 6) + 1):
            version: dict[str, Any] = {
                "text": text(rng),
                "source": rng.choice(["syntax", "structure", "domain"]),
            }
            if k > 1 and rng.random() < 0.8:
                version["parent_version_no"] = rng.randint(1, k - 1)  # branching lineage
            if rng.random() < 0.6:
                version["scores"] = {
                    name: rng.choice([0, 2.5, 7, 10, round(rng.uniform(0, 10), 3)]) for name in SCORE_NAMES
                }
            if rng.random() < 0.2:
                version["explanation"] = {"why": text(rng), "n": rng.randint(0, 9), "ok": True}
            versions.append(version)
        body: dict[str, Any] = {"original_text": f"{n}: {text(rng)}", "versions": versions}
        if rng.random() < 0.7:
            body["request_id"] = f"req-{seed}-{n}"
            body["agent_type"] = rng.choice(["writer", "coder", "ünï"])
        created = user.create_prompt(**body)
        made["prompts"] += 1
        for name in rng.sample(LABEL_NAMES, rng.randint(0, 2)) if versions else []:
            set_label(user, created["id"], name, rng.randint(1, len(versions)))
            made["labels"] += 1
        if "request_id" in body and rng.random() < 0.4:
            choice = rng.choice(["original", "single", "multi"])
            reply = user.http.post(
                "/api/v1/feedback",
                json={
                    "request_id": body["request_id"],
                    "user_choice": choice,
                    "judge_winner": rng.choice(["syntax", "domain"]),
                    "agent_winner": "none" if choice == "original" else rng.choice(["syntax", "domain"]),
                },
            )
            assert reply.status_code in (200, 201), reply.text
            made["feedback"] += 1
    scan_texts = [text(rng) for _ in range(4)]
    for _ in range(6):  # some scans repeat exactly: both are kept, and restored, as two
        scan = {"input_text": rng.choice(scan_texts), "risk_score": rng.choice([0, 0.5, 1]), "label": "safe"}
        assert user.http.post("/api/v1/security-scans", json=scan).status_code in (200, 201)
        made["security_scans"] += 1
    sizes = [0, 1, 4096, 1024 * 1024 + 3]
    while sum(sizes) < file_bytes:
        sizes.append(rng.randint(0, min(3 * 1024 * 1024, file_bytes)))
    for i, size in enumerate(sizes):
        chat = f"chat-{i % 3}"
        name = f"{i}-{rng.choice(['notes', 'données', '報告'])}.{rng.choice(['bin', 'md', 'csv'])}"
        put_file(user, chat, name, rng.randbytes(size), description=text(rng), metadata=json.dumps({"i": i}))
        made["files"] += 1
    for i in range(3):
        rows = [
            [rng.randint(-5, 5), rng.random(), text(rng, 0, 10), None, rng.random() < 0.5]
            for _ in range(rng.randint(0, 20))
        ]
        reply = user.http.post(
            f"/api/v1/chats/chat-{i}/artifacts",
            json={"title": text(rng), "columns": ["a", "b", "c", "d", "e"], "rows": rows},
        )
        assert reply.status_code == 201, reply.text
        made["artifacts"] += 1
    return made
