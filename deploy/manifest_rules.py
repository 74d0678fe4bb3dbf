"""What the rendered manifests and compose.yaml must say beyond their schemas (deploy/check.py).

Each rule returns a list of problems, each a sentence naming the object; an empty list is a pass.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("prompts", "files", "exports")
SERVE_TARGETS = (*SERVICES, "gateway")
DEFAULT_COMMAND = ["serve", "gateway"]  # the image's CMD
# Who may call each server (DESIGN.md: only the gateway and the exports service reach prompts and files).
ALLOWED_CALLERS = {
    "prompts": {"gateway", "exports"},
    "files": {"gateway", "exports"},
    "exports": {"gateway"},
}
Object = dict[str, Any]
# How long the proxy in front of the gateway keeps an idle upstream connection: ingress-nginx's
# upstream-keepalive-timeout and an AWS ALB's idle timeout default to 60 s.
UPSTREAM_IDLE_SECONDS = 60.0


def name_of(obj: Object) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def pod_templates(objects: Iterable[Object]) -> Iterator[tuple[Object, Object]]:
    """(owner, pod spec) of every Deployment and Job."""
    for obj in objects:
        if obj["kind"] in ("Deployment", "Job"):
            yield obj, obj["spec"]["template"]["spec"]


def depot_command_problem(args: list[str]) -> str | None:
    """Why `depot <args>` is not a command of cli/main.py, or None when it is one."""
    from cli.main import main
    from services.common.settings import SERVICE_NAMES

    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        try:
            main([*args, "--help"])
            code: object = 0
        except SystemExit as stop:
            code = stop.code
    if code not in (0, None):
        return (
            f"`depot {' '.join(args)}` is not a depot command ({output.getvalue().strip().splitlines()[-1]})"
        )
    if args and args[0] in ("migrate", "roles"):
        unknown = [a for a in args[1:] if a not in SERVICE_NAMES]
        if unknown:
            return f"`depot {' '.join(args)}` names no service: {', '.join(unknown)}"
    return None


def command_of(container: Object) -> list[str] | None:
    """The `depot` arguments a container runs, or None when it overrides the entrypoint."""
    if container.get("command") not in (None, ["depot"]):
        return None
    return list(container.get("args") or DEFAULT_COMMAND)


# --- Kubernetes ------------------------------------------------------------------------------


def check_commands(objects: list[Object]) -> list[str]:
    """Every container runs a real depot command, and every serve target has a Deployment."""
    problems, targets = [], set()
    for owner, spec in pod_templates(objects):
        for container in spec["containers"]:
            args = command_of(container)
            if args is None:
                problems.append(f"{name_of(owner)} replaces the image's `depot` entrypoint")
            elif problem := depot_command_problem(args):
                problems.append(f"{name_of(owner)}: {problem}")
            elif args[0] == "serve" and owner["kind"] == "Deployment":
                targets.add(args[1])
    problems += [f"no Deployment runs `depot serve {t}`" for t in SERVE_TARGETS if t not in targets]
    return problems


def check_images(objects: list[Object]) -> list[str]:
    """Every image was given a name and a tag (or digest) by the overlay; never `latest`."""
    problems = []
    for owner, spec in pod_templates(objects):
        for container in spec["containers"]:
            image = container["image"]
            tagged = "@sha256:" in image or ":" in image.rsplit("/", 1)[-1]
            if not tagged or image.endswith(":latest"):
                problems.append(
                    f"{name_of(owner)} runs image {image!r}: give it a tag in the overlay's images:"
                )
    return problems


def check_hardening(objects: list[Object]) -> list[str]:
    """Non-root, read-only root, no capabilities, requests and limits: on every pod."""
    problems = []
    for owner, spec in pod_templates(objects):
        if not spec.get("securityContext", {}).get("runAsNonRoot"):
            problems.append(f"{name_of(owner)} does not set runAsNonRoot")
        for container in spec["containers"]:
            context = container.get("securityContext", {})
            where = f"{name_of(owner)} container {container['name']}"
            if not context.get("readOnlyRootFilesystem"):
                problems.append(f"{where} has a writable root filesystem")
            if context.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where} allows privilege escalation")
            if "ALL" not in context.get("capabilities", {}).get("drop", []):
                problems.append(f"{where} does not drop ALL capabilities")
            resources = container.get("resources", {})
            for kind in ("requests", "limits"):
                if not {"cpu", "memory"} <= set(resources.get(kind, {})):
                    problems.append(f"{where} lacks cpu and memory {kind}")
    return problems


def _config(objects: list[Object]) -> dict[str, str]:
    maps = [
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"].startswith("depot-config")
    ]
    return dict(maps[0].get("data", {})) if len(maps) == 1 else {}


def _pre_stop_seconds(container: Object) -> int:
    command = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    return int(command[1]) if len(command) == 2 and command[0] == "sleep" else 0


def check_probes_and_shutdown(objects: list[Object]) -> list[str]:
    """Native gRPC probes on each service's port, HTTP ones on the gateway; termination outlasts the drain."""
    problems, config = [], _config(objects)
    drain = float(config.get("DEPOT_DRAIN_DELAY_SECONDS", 1)) + float(
        config.get("DEPOT_GRACE_PERIOD_SECONDS", 10)
    )
    for owner, spec in pod_templates(objects):
        if owner["kind"] != "Deployment":
            continue
        container = spec["containers"][0]
        target = (command_of(container) or ["", ""])[-1]
        where = name_of(owner)
        if target in SERVICES:
            port = int(config.get(f"DEPOT_{target.upper()}_PORT", 0))
            for probe in ("readinessProbe", "livenessProbe"):
                if container.get(probe, {}).get("grpc", {}).get("port") != port:
                    problems.append(
                        f"{where} needs a {probe} `grpc: {{port: {port}}}` (DEPOT_{target.upper()}_PORT)"
                    )
        elif target == "gateway":
            for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
                if container.get(probe, {}).get("httpGet", {}).get("path") != path:
                    problems.append(f"{where} needs a {probe} on GET {path}")
        needed = _pre_stop_seconds(container) + drain
        if spec.get("terminationGracePeriodSeconds", 30) <= needed:
            problems.append(
                f"{where}: terminationGracePeriodSeconds must exceed preStop + DEPOT_DRAIN_DELAY_SECONDS"
                f" + DEPOT_GRACE_PERIOD_SECONDS ({needed:g} s)"
            )
    return problems


def _matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def check_selectors(objects: list[Object]) -> list[str]:
    """Each Service and PDB selects exactly one Deployment's pods and no Job's; each HPA scales one."""
    problems = []
    pods = [(o, o["spec"]["template"]["metadata"].get("labels", {})) for o, _ in pod_templates(objects)]
    deployments = {o["metadata"]["name"] for o in objects if o["kind"] == "Deployment"}
    for obj in objects:
        if (
            obj["kind"] == "HorizontalPodAutoscaler"
            and obj["spec"]["scaleTargetRef"]["name"] not in deployments
        ):
            problems.append(f"{name_of(obj)} scales a Deployment that does not exist")
        if obj["kind"] not in ("Service", "PodDisruptionBudget"):
            continue
        selector = obj["spec"]["selector"]
        selector = selector.get("matchLabels", {}) if obj["kind"] == "PodDisruptionBudget" else selector
        chosen = [owner for owner, labels in pods if _matches(selector, labels)]
        if [o["kind"] for o in chosen] != ["Deployment"]:
            problems.append(f"{name_of(obj)} selects {[name_of(o) for o in chosen]}, not one Deployment")
    return problems


def check_database_urls(objects: list[Object]) -> list[str]:
    """A service's pods and its migration Job get that service's database URL and no other."""
    problems = []
    for owner, spec in pod_templates(objects):
        args = command_of(spec["containers"][0]) or []
        if args[:1] == ["roles"]:
            continue  # the administrator's Job: it sets every role's password
        own = {f"DEPOT_{s.upper()}_DATABASE_URL" for s in args[1:] if s in SERVICES}
        for container in spec["containers"]:
            names = {e["name"] for e in container.get("env", [])}
            urls = {n for n in names if n.endswith("DATABASE_URL")}
            if urls != own:
                problems.append(f"{name_of(owner)} gets {sorted(urls)} but should get exactly {sorted(own)}")
    return problems


def _port_allowed(rule_ports: list[Object] | None, ports: dict[str, int], port: int) -> bool:
    if not rule_ports:
        return True
    return any(ports.get(str(p.get("port")), p.get("port")) == port for p in rule_ports)


def ingress_allowed(objects: list[Object], source: dict[str, str], target: Object, port: int) -> bool:
    """Whether NetworkPolicies let a pod labelled `source` (same namespace) reach `target`'s pods on `port`."""
    labels = target["spec"]["template"]["metadata"].get("labels", {})
    container_ports = {
        p["name"]: p["containerPort"]
        for c in target["spec"]["template"]["spec"]["containers"]
        for p in c.get("ports", [])
        if "name" in p
    }
    policies = [
        p
        for p in objects
        if p["kind"] == "NetworkPolicy"
        and "Ingress" in p["spec"].get("policyTypes", ["Ingress"])
        and _matches(p["spec"]["podSelector"].get("matchLabels", {}), labels)
    ]
    if not policies:
        return True
    for policy in policies:
        for rule in policy["spec"].get("ingress", []):
            peers = rule.get("from")
            same_namespace = peers is None or any(
                "podSelector" in peer
                and "namespaceSelector" not in peer
                and _matches(peer["podSelector"].get("matchLabels", {}), source)
                for peer in peers
            )
            if same_namespace and _port_allowed(rule.get("ports"), container_ports, port):
                return True
    return False


def check_network_policies(objects: list[Object]) -> list[str]:
    """Only the gateway and the exports service reach prompts and files; only the gateway reaches exports."""
    problems = []
    unsupported = [
        name_of(o)
        for o in objects
        if o["kind"] == "NetworkPolicy"
        and "matchExpressions" in str(o["spec"])  # the evaluator reads matchLabels
    ]
    problems += [f"{n} uses matchExpressions, which this check cannot evaluate" for n in unsupported]
    servers = {}
    for owner, spec in pod_templates(objects):
        args = command_of(spec["containers"][0]) or []
        if owner["kind"] == "Deployment" and args[:1] == ["serve"]:
            servers[args[1]] = owner
    callers = {name: o["spec"]["template"]["metadata"]["labels"] for name, o in servers.items()}
    callers |= {
        name_of(o): o["spec"]["template"]["metadata"]["labels"] for o in objects if o["kind"] == "Job"
    }
    callers["any other pod"] = {"app.kubernetes.io/name": "someone-else"}
    config = _config(objects)
    for target, allowed in ALLOWED_CALLERS.items():
        if target not in servers:
            continue
        port = int(config.get(f"DEPOT_{target.upper()}_PORT", 0))
        for caller, labels in callers.items():
            if caller == target:
                continue
            if ingress_allowed(objects, labels, servers[target], port) != (caller in allowed):
                verb = "can" if caller not in allowed else "cannot"
                problems.append(f"{caller} {verb} reach the {target} service on port {port}")
    return problems


def check_grpc_balancing(objects: list[Object]) -> list[str]:
    """Clients reach every replica of each gRPC backend: DEPOT_<S>_ADDRESS is `dns:///` of a headless
    Service (clusterIP: None) selecting that backend's pods on its port, and servers end connections
    after a max age (DEPOT_GRPC_MAX_CONNECTION_AGE_SECONDS) so clients look the name up again."""
    problems, config = [], _config(objects)
    servers = {
        args[1]: owner
        for owner, spec in pod_templates(objects)
        if owner["kind"] == "Deployment"
        and (args := command_of(spec["containers"][0]) or [])[:1] == ["serve"]
    }
    age = config.get("DEPOT_GRPC_MAX_CONNECTION_AGE_SECONDS", "")
    if not age.replace(".", "", 1).isdigit() or not 0 < float(age) <= 600:
        problems.append(
            f"DEPOT_GRPC_MAX_CONNECTION_AGE_SECONDS is {age!r}: set a max age (at most 600 s) so "
            "long-lived clients reach new replicas"
        )
    for target in SERVICES:
        if target not in servers:
            continue
        port = config.get(f"DEPOT_{target.upper()}_PORT", "")
        address = config.get(f"DEPOT_{target.upper()}_ADDRESS", "")
        host, _, address_port = address.removeprefix("dns:///").rpartition(":")
        pod_labels = servers[target]["spec"]["template"]["metadata"].get("labels", {})
        headless = {
            o["metadata"]["name"]: o
            for o in objects
            if o["kind"] == "Service"
            and o["spec"].get("clusterIP") == "None"
            and _matches(o["spec"].get("selector", {}), pod_labels)
            and any(str(p.get("port")) == port for p in o["spec"].get("ports", []))
        }
        if not headless:
            problems.append(f"no headless Service (clusterIP: None) selects the {target} pods on port {port}")
        if not address.startswith("dns:///") or host not in headless or address_port != port:
            problems.append(
                f"DEPOT_{target.upper()}_ADDRESS is {address!r}, not dns:///<a headless Service of "
                f"{target}>:{port}: clients would hold one connection to one pod"
            )
    return problems


def keep_alive_problem(value: object) -> str | None:
    """Why DEPOT_HTTP_KEEP_ALIVE_SECONDS does not outlast the proxy's idle timeout, or None."""
    try:
        seconds = float(str(value))
    except ValueError:
        seconds = 0.0
    if seconds > UPSTREAM_IDLE_SECONDS:
        return None
    return (
        f"DEPOT_HTTP_KEEP_ALIVE_SECONDS is {value!r}: set it above the Ingress's or load balancer's upstream "
        f"idle timeout ({UPSTREAM_IDLE_SECONDS:g} s), else the proxy reuses connections the gateway has "
        "just closed and answers 502"
    )


def check_keep_alive(objects: list[Object]) -> list[str]:
    """The gateway closes an idle connection only after the proxy in front would have."""
    problem = keep_alive_problem(_config(objects).get("DEPOT_HTTP_KEEP_ALIVE_SECONDS", ""))
    return [problem] if problem else []


KUBERNETES_RULES = (
    check_commands,
    check_images,
    check_hardening,
    check_probes_and_shutdown,
    check_selectors,
    check_database_urls,
    check_network_policies,
    check_grpc_balancing,
    check_keep_alive,
)


def check_manifests(objects: list[Object]) -> list[str]:
    """Every rule above over one rendered overlay."""
    return [problem for rule in KUBERNETES_RULES for problem in rule(objects)]


# --- compose ----------------------------------------------------------------------------------


def check_compose(compose: dict[str, Any], *, compose_dir: Path) -> list[str]:
    """Images are the one built from deploy/Dockerfile or pinned upstream ones; commands exist."""
    problems, services = [], compose.get("services") or {}
    if not services:
        return ["compose.yaml defines no services"]
    for name, service in services.items():
        build = service.get("build")
        if build is not None:
            context = (
                compose_dir / (build if isinstance(build, str) else build.get("context", "."))
            ).resolve()
            dockerfile = context / (
                build.get("dockerfile", "Dockerfile") if isinstance(build, dict) else "Dockerfile"
            )
            if dockerfile.resolve() != ROOT / "deploy" / "Dockerfile":
                problems.append(f"service {name} builds {dockerfile}, not deploy/Dockerfile")
            if service.get("entrypoint") is not None:
                problems.append(f"service {name} replaces the image's `depot` entrypoint")
            command = service.get("command", DEFAULT_COMMAND)
            command = command.split() if isinstance(command, str) else [str(c) for c in command]
            if problem := depot_command_problem(command):
                problems.append(f"service {name}: {problem}")
        else:
            image = str(service.get("image", ""))
            if ":" not in image.rsplit("/", 1)[-1] or image.endswith(":latest"):
                problems.append(f"service {name} uses image {image!r}: pin a version tag")
        for dependency in service.get("depends_on") or {}:
            if dependency not in services:
                problems.append(f"service {name} depends on {dependency}, which compose.yaml does not define")
        problems += _check_healthcheck(name, service)
        if name == "gateway":
            keep_alive = (service.get("environment") or {}).get("DEPOT_HTTP_KEEP_ALIVE_SECONDS", "")
            if problem := keep_alive_problem(keep_alive):
                problems.append(f"service gateway: {problem}")
    return problems


def _check_healthcheck(name: str, service: dict[str, Any]) -> list[str]:
    test = (service.get("healthcheck") or {}).get("test")
    if not test:
        return [] if service.get("restart") == "no" else [f"service {name} has no healthcheck"]
    script = "/app/deploy/healthcheck.py"
    if script in test:
        target = test[test.index(script) + 1] if test.index(script) + 1 < len(test) else ""
        if target not in SERVE_TARGETS:
            return [f"service {name}: healthcheck asks about {target!r}, not a serve target"]
    return []
