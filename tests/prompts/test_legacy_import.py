"""`depot prompts import`: legacy CSV history into a user's account, through the running prompts service."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psutil

from tests.exports.conftest import content, export_ok, scores
from tests.support.system import System, User

ROOT = Path(__file__).resolve().parents[2]
MULTI_AGENT_HEADER = "request_id,timestamp,original_prompt,final_prompt,selected_agent,syntax_score,structure_score,domain_score"


def depot_import(
    system: System, user: User, *files: Path, dry_run: bool = False
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "cli.main", "prompts", "import", "--user", user.id]
    command += ["--dry-run"] if dry_run else []
    return subprocess.run(
        [*command, *map(str, files)],
        env=system.stack.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def prompts_of(user: User) -> list[dict[str, Any]]:
    """Every prompt of the user with its versions, oldest first."""
    items: list[dict[str, Any]] = []
    token = ""
    while True:
        reply = user.http.get("/api/v1/prompts", params={"page_size": 1000, "page_token": token})
        assert reply.status_code == 200, reply.text
        items += reply.json()["items"]
        token = reply.json()["next_page_token"]
        if not token:
            break
    full = []
    for item in reversed(items):
        reply = user.http.get(f"/api/v1/prompts/{item['id']}")
        assert reply.status_code == 200, reply.text
        full.append(reply.json())
    return full


def by_request_id(user: User) -> dict[str, dict[str, Any]]:
    return {p["request_id"]: p for p in prompts_of(user)}


def shape(prompt: dict[str, Any]) -> dict[str, Any]:
    """What an import must carry over: texts, versions with their lineage and scores, the best head."""
    return {
        "request_id": prompt["request_id"],
        "original_text": prompt["original_text"],
        "best_version_no": prompt["best_version_no"],
        "versions": [
            (v["version_no"], v["text"], v["source"], v["parent_version_no"], v["scores"])
            for v in prompt["versions"]
        ],
    }


def write(path: Path, text: str, *, bom: bool = False) -> Path:
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


def test_depot_exports_round_trip_into_another_users_account(
    alice: User, bob: User, system: System, tmp_path: Path
) -> None:
    marker = uuid.uuid4().hex[:8]
    alice.create_prompt(
        request_id=f"branching-{marker}",
        original_text=f"Original {marker}: write a pitch, naïve café ☕",
        versions=[
            {
                "text": f'Syntax {marker}\nwith a second line, a "quote" and a comma',
                "source": "syntax",
                "scores": scores(6),
            },
            {
                "text": f"Structure {marker} 構造",
                "source": "structure",
                "parent_version_no": 1,
                "scores": scores(9),
            },
            {"text": f'=HYPERLINK("x") {marker}', "source": "domain", "parent_version_no": 1},
            {"text": f"Zero {marker}", "source": "judge", "parent_version_no": 2, "scores": scores(0)},
        ],
    )
    alice.create_prompt(
        request_id=f"plain-{marker}",
        original_text=f"Plain {marker}",
        versions=[{"text": f"Only {marker}", "source": "syntax"}],
    )
    alice.create_prompt(
        original_text=f"No request id {marker}",
        versions=[{"text": f"Kept {marker}", "source": "domain", "scores": scores(4.5)}],
    )
    files = []
    for dataset in ("multi-agent", "temporal"):
        export = export_ok(alice, f"datasets/{dataset}", "csv", csv_mode="raw")
        files.append(tmp_path / f"{dataset}.csv")
        files[-1].write_bytes(content(alice, export["id"]).content)

    result = depot_import(system, bob, *files)

    assert result.returncode == 0, result.stdout + result.stderr
    originals = {p["request_id"]: p for p in prompts_of(alice)}
    imported = prompts_of(bob)
    # The temporal file carries every version; a prompt with a request_id takes its original text
    # from the multi-agent row; one without becomes one prompt of the temporal file (and the
    # multi-agent row, which has no prompt id to match, one more).
    keyed = {p["request_id"]: p for p in imported}
    for request_id in (f"branching-{marker}", f"plain-{marker}"):
        assert shape(keyed[request_id]) == shape(originals[request_id])
    [unkeyed] = [p for p in originals.values() if p["request_id"] is None]
    [copy] = [
        p
        for p in imported
        if p["versions"]
        and p["versions"][0]["text"] == f"Kept {marker}"
        and p["request_id"].startswith("csv-import-prompt-")
    ]
    assert [v["scores"] for v in copy["versions"]] == [v["scores"] for v in unkeyed["versions"]]
    assert keyed[f"branching-{marker}"]["best_version_no"] == 2
    assert result.stdout.count("created") >= 3


def test_seed_001_placeholders_are_not_scores_and_formulas_stay_text(
    bob: User, system: System, tmp_path: Path
) -> None:
    log = write(
        tmp_path / "multi_agent_log.csv",
        f"{MULTI_AGENT_HEADER}\r\n"
        'seed-1,2024-05-01T10:00:00,Write a haiku,"A haiku, refined\nin two lines",structure,0.0,0.0,0.0\r\n'
        "seed-2,2024-05-01T10:05:00,=1+2,@SUM(A1:A3),syntax,31.5,0.0,40\r\n"
        "seed-3,2024-05-01T10:06:00,Only the original,,,0.0,0.0,0.0\r\n",
        bom=True,
    )

    result = depot_import(system, bob, log)

    assert result.returncode == 0, result.stdout + result.stderr
    stored = by_request_id(bob)
    placeholder = stored["seed-1"]
    assert placeholder["original_text"] == "Write a haiku"
    [version] = placeholder["versions"]
    assert (version["text"], version["source"], version["scores"]) == (
        "A haiku, refined\nin two lines",
        "structure",
        None,
    )
    assert placeholder["best_version_no"] is None
    assert version["explanation"] == {"legacy_timestamp": "2024-05-01T10:00:00"}
    formula = stored["seed-2"]
    assert (formula["original_text"], formula["versions"][0]["text"]) == ("=1+2", "@SUM(A1:A3)")
    # Per-agent totals cannot be split into the five criteria: kept beside the version, not as scores.
    assert formula["versions"][0]["scores"] is None
    assert formula["versions"][0]["explanation"]["legacy_agent_totals"] == {
        "syntax": 31.5,
        "structure": 0,
        "domain": 40,
    }
    assert stored["seed-3"]["versions"] == []


def test_a_second_run_changes_nothing(bob: User, system: System, tmp_path: Path) -> None:
    log = write(
        tmp_path / "log.csv",
        f"{MULTI_AGENT_HEADER}\nagain-1,t,Original,Final,syntax,,,\nagain-2,t,Two,,,,,\n",
    )
    temporal = write(
        tmp_path / "temporal.csv",
        "prompt_id,version_no,parent_version_no,source,text,clarity,specificity,actionability,structure,context_use\n"
        "p1,1,,syntax,First,1,2,3,4,5\np1,2,1,domain,Second,,,,,\n",
    )
    first = depot_import(system, bob, log, temporal)
    assert first.returncode == 0, first.stdout + first.stderr
    before = prompts_of(bob)

    second = depot_import(system, bob, log, temporal)

    assert second.returncode == 0, second.stdout + second.stderr
    assert second.stdout.count("unchanged ") == 3
    assert "0 created, 3 unchanged, 0 conflict, 0 bad rows" in second.stdout
    assert prompts_of(bob) == before


def test_a_dry_run_writes_nothing(bob: User, system: System, tmp_path: Path) -> None:
    log = write(
        tmp_path / "log.csv", f"{MULTI_AGENT_HEADER}\ndry-1,t,Original,Final,syntax,,,\ndry-2,t,,x,y,,,\n"
    )

    result = depot_import(system, bob, log, dry_run=True)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "would create" in result.stdout and f"{log}:3: original_prompt must not be empty" in result.stdout
    assert prompts_of(bob) == []
    assert depot_import(system, bob, log).returncode == 1
    assert "exists" in depot_import(system, bob, log, dry_run=True).stdout


def test_a_wrong_header_names_the_expected_headers_and_writes_nothing(
    bob: User, system: System, tmp_path: Path
) -> None:
    wrong = write(tmp_path / "wrong.csv", "id,prompt,score\n1,Hello,3\n")

    result = depot_import(system, bob, wrong)

    assert result.returncode == 1
    assert f"{wrong}: unrecognised header 'id,prompt,score'" in result.stdout
    assert MULTI_AGENT_HEADER in result.stdout and "prompt_id,request_id,version_no" in result.stdout
    assert prompts_of(bob) == []


def test_bad_rows_are_reported_with_their_line_and_skipped(bob: User, system: System, tmp_path: Path) -> None:
    log = tmp_path / "bad.csv"
    log.write_bytes(
        f"{MULTI_AGENT_HEADER}\n".encode()
        + b'good-1,t,"multi\nline",Final,syntax,,,\n'  # lines 2-3
        + b'quote-1,t,"broken "quoting",x,syntax,,,\n'  # line 4
        + b"latin-1,t,caf\xe9,x,syntax,,,\n"  # line 5
        + b"cells-1,t,too few\n"  # line 6
        + b"score-1,t,Original,Final,syntax,nan,,\n"  # line 7
        + b"good-2,t,Second,Final,syntax,,,\n"  # line 8
    )

    result = depot_import(system, bob, log)

    assert result.returncode == 1
    out = result.stdout
    assert f"{log}:4: malformed CSV" in out
    assert f"{log}:5: not UTF-8 (byte 0xe9" in out
    assert f"{log}:6: 3 cells where the header has 8" in out
    assert f"{log}:7: syntax_score must be between 0 and 50" in out
    assert "2 created, 0 unchanged, 0 conflict, 4 bad rows" in out
    assert sorted(by_request_id(bob)) == ["good-1", "good-2"]
    assert by_request_id(bob)["good-1"]["original_text"] == "multi\nline"


def test_a_temporal_prompt_with_a_bad_row_is_skipped_whole(bob: User, system: System, tmp_path: Path) -> None:
    temporal = write(
        tmp_path / "temporal.csv",
        "prompt_id,request_id,version_no,parent_version_no,source,created_at,text,"
        "clarity,specificity,actionability,structure,context_use,total\n"
        "a,whole-a,1,,syntax,t,First,1,1,1,1,1,5\n"
        "a,whole-a,2,1,domain,t,Second,11,1,1,1,1,15\n"
        "b,whole-b,1,,syntax,t,Other,1,1,1,1,1,5\n"
        "c,whole-c,1,,syntax,t,Gap,,,,,,\n"
        "c,whole-c,3,1,syntax,t,Gap,,,,,,\n"
        "d,whole-d,1,,syntax,t,Mismatch,1,1,1,1,1,9\n",
    )

    result = depot_import(system, bob, temporal)

    assert result.returncode == 1
    assert f"{temporal}:3: clarity must be between 0 and 10" in result.stdout
    assert f"{temporal}:2: prompt 'a' skipped whole" in result.stdout
    assert "versions must be numbered 1 to 2 once each" in result.stdout
    assert f"{temporal}:7: total 9 is not the sum of the five criteria (5)" in result.stdout
    assert sorted(by_request_id(bob)) == ["whole-b"], result.stdout + result.stderr


def test_a_100_mb_field_is_a_bad_row_not_memory(bob: User, system: System, tmp_path: Path) -> None:
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as file:
        file.write(f'{MULTI_AGENT_HEADER}\nbefore,t,Before,x,syntax,,,\nhuge,t,"'.encode())
        chunk = b"x" * (1024 * 1024)
        for _ in range(100):
            file.write(chunk)
        file.write(
            b'",x,syntax,,,\nquoted,t,"' + b"y\n" * 60_000 + b'",x,syntax,,,\nafter,t,After,x,syntax,,,\n'
        )
    small = write(tmp_path / "small.csv", f"{MULTI_AGENT_HEADER}\nsmall,t,Small,x,syntax,,,\n")

    baseline, _ = peak_rss_of(system, bob, small)
    peak, result = peak_rss_of(system, bob, huge)

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{huge}:3: line longer than" in result.stdout
    assert f"{huge}:4: malformed CSV: a cell longer than 100,000 characters" in result.stdout
    assert {"before", "after", "small"} <= set(by_request_id(bob))
    assert peak - baseline < 40 * 1024 * 1024, (peak, baseline)


def peak_rss_of(system: System, user: User, file: Path) -> tuple[int, subprocess.CompletedProcess[str]]:
    """The import's peak resident memory (sampled every 5 ms) and its result."""
    command = [sys.executable, "-m", "cli.main", "prompts", "import", "--user", user.id, str(file)]
    process = subprocess.Popen(
        command, env=system.stack.env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        time.sleep(0.005)
    stdout, stderr = process.communicate(timeout=300)
    return peak, subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def test_someone_elses_request_id_is_theirs_and_a_reused_one_is_a_conflict(
    alice: User, bob: User, system: System, tmp_path: Path
) -> None:
    alice_prompt = alice.create_prompt(request_id="shared-id", original_text="Alice's own")
    first = write(tmp_path / "first.csv", f"{MULTI_AGENT_HEADER}\nshared-id,t,Bob's import,Final,syntax,,,\n")
    other = write(
        tmp_path / "other.csv", f"{MULTI_AGENT_HEADER}\nshared-id,t,Bob's other body,Final,syntax,,,\n"
    )

    assert depot_import(system, bob, first).returncode == 0
    result = depot_import(system, bob, other)

    assert result.returncode == 1
    assert f"conflict      {other}:2: request_id 'shared-id' is stored with another body" in result.stdout
    assert by_request_id(bob)["shared-id"]["original_text"] == "Bob's import"
    assert alice.http.get(f"/api/v1/prompts/{alice_prompt['id']}").json()["original_text"] == "Alice's own"
    assert len(prompts_of(alice)) == 1


def test_a_temporal_row_of_no_readable_prompt_stops_the_whole_file(
    bob: User, system: System, tmp_path: Path
) -> None:
    temporal = tmp_path / "temporal.csv"
    temporal.write_bytes(b"prompt_id,version_no,text\nx,1,First\nx,2,Second\nx,3,caf\xe9\ny,1,Other\n")

    result = depot_import(system, bob, temporal)

    assert result.returncode == 1
    assert f"{temporal}:4: not UTF-8" in result.stdout
    assert "no prompt of this file imported: the bad row at line 4" in result.stdout
    assert prompts_of(bob) == []


def test_a_multi_agent_row_of_a_skipped_temporal_prompt_is_not_imported_alone(
    bob: User, system: System, tmp_path: Path
) -> None:
    log = write(
        tmp_path / "log.csv",
        f"{MULTI_AGENT_HEADER}\nhalf,t,Original,Second,domain,,,\nfull,t,Whole,Only,syntax,,,\n",
    )
    temporal = write(
        tmp_path / "temporal.csv",
        "prompt_id,request_id,version_no,parent_version_no,source,text\n"
        "a,half,1,,syntax,First\na,half,2,7,domain,Second\nb,full,1,,syntax,Only\n",
    )

    result = depot_import(system, bob, log, temporal)

    assert result.returncode == 1, result.stdout + result.stderr
    assert (
        f"{temporal}:2: prompt 'a': versions[1].parent_version_no must name an earlier version"
        in result.stdout
    )
    assert f"skipped       {log}:2: request_id 'half': its temporal prompt was not imported" in result.stdout
    stored = by_request_id(bob)
    assert sorted(stored) == ["full"]
    assert stored["full"]["original_text"] == "Whole"
