"""deploy/check.sh, what CI runs: it passes on this repository and fails on each kind of mistake it guards."""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.manifests import DEPLOY, check, manifest_rules

ROOT = DEPLOY.parent
CHECK = [str(DEPLOY / "check.sh")]
Objects = list[dict[str, Any]]


@pytest.fixture(scope="module")
def prod() -> Objects:
    return check.render("prod")


def _one(objects: Objects, kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name)


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CHECK, *args], capture_output=True, text=True, env=env)


def test_manifests_compose_and_protos_pass_the_deploy_checks() -> None:
    done = _run("kubernetes", "compose", "buf")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "deploy checks: all passed" in done.stdout


def test_the_image_installs_every_third_party_module_the_services_use() -> None:
    problems = check.check_image_dependencies()
    assert problems == [], "\n".join(problems)


def test_the_schema_check_rejects_a_field_kubernetes_does_not_know(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(DEPLOY / "k8s", tmp_path / "k8s")
    overlay = tmp_path / "k8s" / "overlays" / "dev" / "kustomization.yaml"
    patch = "  - target: {kind: Service, name: depot-files}\n    patch: |-\n      - {op: add, path: /spec/portz, value: 1}\n"
    overlay.write_text(overlay.read_text() + patch)
    monkeypatch.setattr(check, "HERE", tmp_path)
    problems = check.check_kubernetes()
    assert any("Service/depot-files" in p and "portz" in p for p in problems), problems


def test_rules_pass_on_both_overlays(prod: Objects) -> None:
    assert manifest_rules.check_manifests(prod) == []
    assert manifest_rules.check_manifests(check.render("dev")) == []


def test_a_serve_target_cli_main_does_not_know_is_refused(prod: Objects) -> None:
    objects = copy.deepcopy(prod)
    _one(objects, "Deployment", "depot-files")["spec"]["template"]["spec"]["containers"][0]["args"] = [
        "serve",
        "filez",
    ]
    problems = manifest_rules.check_commands(objects)
    assert any("invalid choice: 'filez'" in p for p in problems), problems
    assert "no Deployment runs `depot serve files`" in problems


def test_a_migration_of_an_unknown_service_is_refused(prod: Objects) -> None:
    objects = copy.deepcopy(prod)
    _one(objects, "Job", "depot-migrate-files")["spec"]["template"]["spec"]["containers"][0]["args"] = [
        "migrate",
        "filez",
    ]
    assert any("names no service: filez" in p for p in manifest_rules.check_commands(objects))


def test_an_image_the_overlay_did_not_tag_is_refused(prod: Objects) -> None:
    objects = copy.deepcopy(prod)
    _one(objects, "Deployment", "depot-exports")["spec"]["template"]["spec"]["containers"][0]["image"] = (
        "depot-exports"
    )
    assert manifest_rules.check_images(objects) == [
        "Deployment/depot-exports runs image 'depot-exports': give it a tag in the overlay's images:"
    ]


def test_termination_shorter_than_the_drain_is_refused(prod: Objects) -> None:
    objects = copy.deepcopy(prod)
    _one(objects, "Deployment", "depot-prompts")["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ] = 20
    problems = manifest_rules.check_probes_and_shutdown(objects)
    assert any("depot-prompts: terminationGracePeriodSeconds must exceed" in p for p in problems), problems


def test_a_writable_root_filesystem_is_refused(prod: Objects) -> None:
    objects = copy.deepcopy(prod)
    container = _one(objects, "Job", "depot-roles")["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFilesystem"] = False
    assert manifest_rules.check_hardening(objects) == [
        "Job/depot-roles container roles has a writable root filesystem"
    ]


def test_a_service_given_another_services_database_url_is_refused(prod: Objects) -> None:
    objects = copy.deepcopy(prod)
    env = _one(objects, "Deployment", "depot-exports")["spec"]["template"]["spec"]["containers"][0]["env"]
    env.append({"name": "DEPOT_PROMPTS_DATABASE_URL", "value": "postgresql://depot_prompts@db/depot"})
    problems = manifest_rules.check_database_urls(objects)
    assert any(p.startswith("Deployment/depot-exports gets") for p in problems), problems


def test_network_policies_let_only_the_gateway_and_exports_reach_prompts_and_files(prod: Objects) -> None:
    assert manifest_rules.check_network_policies(prod) == []
    opened = copy.deepcopy(prod)
    _one(opened, "NetworkPolicy", "depot-prompts")["spec"]["ingress"].append({})  # from anyone, on any port
    problems = manifest_rules.check_network_policies(opened)
    assert "files can reach the prompts service on port 50051" in problems, problems
    assert "any other pod can reach the prompts service on port 50051" in problems, problems
    closed = [
        o
        for o in copy.deepcopy(prod)
        if o["metadata"]["name"] != "depot-exports" or o["kind"] != "NetworkPolicy"
    ]
    assert "gateway cannot reach the exports service on port 50053" in manifest_rules.check_network_policies(
        closed
    )


def test_compose_is_refused_for_unknown_commands_floating_images_and_missing_dependencies() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    assert manifest_rules.check_compose(compose, compose_dir=DEPLOY) == []
    compose["services"]["files"]["command"] = ["serve", "filez"]
    compose["services"]["postgres"]["image"] = "postgres:latest"
    compose["services"]["gateway"]["depends_on"]["search"] = {"condition": "service_healthy"}
    problems = manifest_rules.check_compose(compose, compose_dir=DEPLOY)
    assert any(p.startswith("service files: `depot serve filez` is not a depot command") for p in problems), (
        problems
    )
    assert "service postgres uses image 'postgres:latest': pin a version tag" in problems
    assert "service gateway depends on search, which compose.yaml does not define" in problems


# --- buf breaking against the previous commit -------------------------------------------------

PROTO = """syntax = "proto3";
package depot.demo.v1;
// A demo.
message Thing {
  // Its name.
  string name = 1;
%s}
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=check", "-c", "user.email=check@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
    )


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "README").write_text("no protos yet\n")
    return repo


def _write_protos(repo: Path, extra_field: str = "") -> None:
    (repo / "protos" / "depot" / "demo" / "v1").mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "protos" / "buf.yaml", repo / "protos" / "buf.yaml")
    (repo / "protos" / "depot" / "demo" / "v1" / "demo.proto").write_text(PROTO % extra_field)


def _buf(repo: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEPOT_CHECK_ROOT": str(repo)}
    return _run("buf", env=env)


def test_buf_breaking_passes_when_there_is_no_previous_commit(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _write_protos(repo)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "first")
    done = _buf(repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "buf: skipped, there is no commit HEAD~1" in done.stdout


def test_buf_breaking_passes_when_the_previous_commit_has_no_protos(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "first")
    _write_protos(repo)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "protos")
    done = _buf(repo)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "buf: skipped, HEAD~1 has no protos/buf.yaml" in done.stdout


def test_buf_breaking_accepts_a_new_field_and_fails_on_a_changed_one(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    _write_protos(repo, "  // Its size.\n  int64 size = 2;\n")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "v1")
    _write_protos(repo, "  // Its size.\n  int64 size = 2;\n  // Its colour.\n  string colour = 3;\n")
    _git(repo, "commit", "-qam", "add a field")
    added = _buf(repo)
    assert added.returncode == 0, added.stdout + added.stderr
    _write_protos(repo, "  // Its size, now text.\n  string size = 2;\n")
    _git(repo, "commit", "-qam", "change a field's type and drop another")
    broken = _buf(repo)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "buf breaking against HEAD~1" in broken.stdout and "size" in broken.stdout, broken.stdout


# --- what the image installs ----------------------------------------------------------------------


def test_the_image_installs_runtime_dependencies_only_pinned_by_the_lock(tmp_path: Path) -> None:
    import runtime_requirements

    runtime = runtime_requirements.runtime_dependencies()
    assert "pytest" not in runtime and "ruff" not in runtime
    lock = tmp_path / "requirements.lock"
    lock.write_text(
        "# pins\nalembic==1.20.1\n"
        "some-fonts @ file:///tmp/x/some_fonts-2026.9.26.post1-py3-none-any.whl#sha256=00\n"
    )
    assert runtime_requirements.constraints(lock) == ["alembic==1.20.1", "some-fonts==2026.9.26.post1"]


def test_grpc_backends_are_reached_through_headless_services(prod: Objects) -> None:
    assert manifest_rules.check_grpc_balancing(prod) == []
    headless = _one(prod, "Service", "depot-files-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert _one(prod, "Service", "depot-files")["spec"].get("clusterIP") != "None"  # kept for tools


def test_an_address_naming_a_cluster_ip_service_is_refused(prod: Objects) -> None:
    objects = copy.deepcopy(prod)
    config = next(
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("depot-config")
    )
    config["data"]["DEPOT_PROMPTS_ADDRESS"] = "depot-prompts:50051"
    config["data"]["DEPOT_FILES_ADDRESS"] = "dns:///depot-files:50052"
    problems = manifest_rules.check_grpc_balancing(objects)
    assert [p.split(" is ")[0] for p in problems] == ["DEPOT_PROMPTS_ADDRESS", "DEPOT_FILES_ADDRESS"], (
        problems
    )


def test_a_backend_without_a_headless_service_or_connection_age_is_refused(prod: Objects) -> None:
    objects = [o for o in copy.deepcopy(prod) if o["metadata"]["name"] != "depot-exports-headless"]
    config = next(
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("depot-config")
    )
    del config["data"]["DEPOT_GRPC_MAX_CONNECTION_AGE_SECONDS"]
    problems = manifest_rules.check_grpc_balancing(objects)
    assert any(p.startswith("DEPOT_GRPC_MAX_CONNECTION_AGE_SECONDS is ''") for p in problems), problems
    assert "no headless Service (clusterIP: None) selects the exports pods on port 50053" in problems
    assert any(p.startswith("DEPOT_EXPORTS_ADDRESS is") for p in problems), problems


def _config_data(objects: Objects) -> dict[str, Any]:
    config = next(
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("depot-config")
    )
    return config["data"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("keep_alive", [None, "5", "60", "soon"])
def test_the_gateway_keeps_idle_connections_open_longer_than_the_proxy_in_front(
    prod: Objects, keep_alive: str | None
) -> None:
    """A proxy that reuses an idle upstream connection the gateway has just closed answers 502, so
    the gateway's keep-alive outlasts the Ingress's or load balancer's idle timeout (60 s)."""
    assert float(_config_data(prod)["DEPOT_HTTP_KEEP_ALIVE_SECONDS"]) > manifest_rules.UPSTREAM_IDLE_SECONDS
    assert manifest_rules.check_keep_alive(prod) == []
    objects = copy.deepcopy(prod)
    data = _config_data(objects)
    if keep_alive is None:
        del data["DEPOT_HTTP_KEEP_ALIVE_SECONDS"]
    else:
        data["DEPOT_HTTP_KEEP_ALIVE_SECONDS"] = keep_alive
    problems = manifest_rules.check_keep_alive(objects)
    assert len(problems) == 1 and problems[0].startswith("DEPOT_HTTP_KEEP_ALIVE_SECONDS is"), problems
    assert problems == [p for p in manifest_rules.check_manifests(objects) if "KEEP_ALIVE" in p]

    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    gateway = compose["services"]["gateway"]["environment"]
    assert float(gateway["DEPOT_HTTP_KEEP_ALIVE_SECONDS"]) > manifest_rules.UPSTREAM_IDLE_SECONDS
    if keep_alive is None:
        del gateway["DEPOT_HTTP_KEEP_ALIVE_SECONDS"]
    else:
        gateway["DEPOT_HTTP_KEEP_ALIVE_SECONDS"] = keep_alive
    problems = manifest_rules.check_compose(compose, compose_dir=DEPLOY)
    assert len(problems) == 1 and problems[0].startswith(
        "service gateway: DEPOT_HTTP_KEEP_ALIVE_SECONDS is"
    ), problems
