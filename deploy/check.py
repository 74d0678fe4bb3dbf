"""The deploy checks CI runs (deploy/check.sh): manifests, compose, the image's dependencies, buf breaking.

    python deploy/check.py [kubernetes] [compose] [image] [buf]     (all four by default)

- kubernetes: renders every overlay with `kubectl kustomize`, validates each object against the
  Kubernetes schemas of KUBERNETES_VERSIONS (strict: unknown fields are errors), then the rules
  of manifest_rules.py (commands, images, hardening, probes, selectors, network policies).
- compose: deploy/compose.yaml parses, builds deploy/Dockerfile, pins other images, runs real commands.
- image: every third-party module the services import is a runtime dependency the image installs.
- buf: `buf breaking` of protos/ against BUF_AGAINST (default HEAD~1); skipped, saying so, when
  that commit does not exist or has no protos.

Environment: KUBECTL, BUF (tool paths), KUBERNETES_VERSIONS (comma-separated), BUF_AGAINST,
DEPOT_CHECK_ROOT (the repository whose protos and git history the buf step reads).
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(ROOT / "gen"), str(HERE)]

import manifest_rules  # noqa: E402
import runtime_requirements  # noqa: E402
import yaml  # noqa: E402

OVERLAYS = ("dev", "prod")
KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")  # the oldest and the newest a cluster may run
FIRST_PARTY = {"cli", "services", "gateway", "migrations", "depot", "deploy", "tests"}
# Run only where the dev tools are installed (`make proto`), never in the image.
DEV_ONLY_SOURCES = {"cli/protos.py"}
IMAGE_SOURCES = ("cli", "services", "gateway", "migrations", "gen")


def _tool(variable: str, name: str) -> str:
    """A tool from its variable, else the venv's, else PATH."""
    if os.environ.get(variable):
        return os.environ[variable]
    venv = Path(sys.executable).parent / name
    return str(venv) if venv.exists() else shutil.which(name) or name


def render(overlay: str) -> list[dict[str, Any]]:
    """The objects `kubectl kustomize` renders for one overlay."""
    result = subprocess.run(
        [_tool("KUBECTL", "kubectl"), "kustomize", str(HERE / "k8s" / "overlays" / overlay)],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(f"kubectl kustomize {overlay} failed:\n{result.stderr}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def check_kubernetes() -> list[str]:
    """Every object of every overlay is schema-valid and follows manifest_rules."""
    import kubernetes_validate

    versions = os.environ.get("KUBERNETES_VERSIONS", ",".join(KUBERNETES_VERSIONS)).split(",")
    problems = []
    for overlay in OVERLAYS:
        objects = render(overlay)
        for obj in objects:
            for version in versions:
                try:
                    kubernetes_validate.validate(obj, version.strip(), strict=True)
                except kubernetes_validate.ValidationError as error:
                    where = ".".join(str(p) for p in error.path) or "(top)"
                    problems.append(f"{overlay}: {manifest_rules.name_of(obj)} at {where}: {error.message}")
                except (
                    kubernetes_validate.SchemaNotFoundError,
                    kubernetes_validate.InvalidSchemaError,
                ) as error:
                    problems.append(f"{overlay}: {manifest_rules.name_of(obj)}: {error.message}")
        problems += [f"{overlay}: {p}" for p in manifest_rules.check_manifests(objects)]
        print(f"kubernetes: {overlay}: {len(objects)} objects, schemas of Kubernetes {', '.join(versions)}")
    return problems


def check_compose() -> list[str]:
    path = HERE / "compose.yaml"
    try:
        compose = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        return [f"compose.yaml does not parse: {error}"]
    problems = manifest_rules.check_compose(compose, compose_dir=path.parent)
    print(f"compose: {len(compose.get('services') or {})} services")
    return problems


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure() -> set[str]:
    """Distributions the image installs: pyproject's dependencies and theirs, as installed here."""
    from packaging.requirements import Requirement

    todo = [Requirement(r) for r in runtime_requirements.runtime_dependencies()]
    visited: set[tuple[str, frozenset[str]]] = set()
    while todo:
        requirement = todo.pop()
        key = (_normalise(requirement.name), frozenset(requirement.extras))
        if key in visited:
            continue
        visited.add(key)
        try:
            distribution = importlib.metadata.distribution(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            continue  # pip reports it in the image build
        for raw in distribution.requires or []:
            dependency = Requirement(raw)
            extras = requirement.extras or {""}
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": e}) for e in extras):
                todo.append(dependency)
    return {name for name, _ in visited}


def imported_modules(path: Path) -> set[str]:
    """Top-level modules a file imports, plus string constants naming one (importlib.resources)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            names.add(f"str:{node.value}")
    return names


def check_image_dependencies() -> list[str]:
    """Each third-party module the image's code needs comes with pyproject's runtime dependencies."""
    closure = runtime_closure()
    providers = importlib.metadata.packages_distributions()
    problems, checked = [], 0
    for top in IMAGE_SOURCES:
        for path in sorted((ROOT / top).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            if relative in DEV_ONLY_SOURCES:
                continue
            checked += 1
            for module in sorted(imported_modules(path)):
                literal = module.startswith("str:")
                module = module.removeprefix("str:")
                if module in FIRST_PARTY or module in sys.stdlib_module_names or module == "__future__":
                    continue
                distributions = {_normalise(d) for d in providers.get(module, [])}
                if not distributions:
                    if not literal:
                        problems.append(
                            f"{relative} imports {module}, which no installed distribution provides"
                        )
                elif not distributions & closure:
                    problems.append(
                        f"{relative} uses {module} ({', '.join(sorted(distributions))}), which is not among "
                        "pyproject.toml's [project] dependencies, so the image lacks it"
                    )
    print(f"image: {checked} files against {len(closure)} runtime distributions")
    return problems


def check_buf() -> list[str]:
    """`buf breaking` against BUF_AGAINST; a missing base commit or protos there is a skip, not a pass."""
    root = Path(os.environ.get("DEPOT_CHECK_ROOT", ROOT))
    against = os.environ.get("BUF_AGAINST", "HEAD~1")

    def git(*args: str) -> bool:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True).returncode == 0

    if not (root / "protos" / "buf.yaml").exists():
        print("buf: skipped, this checkout has no protos/buf.yaml")
        return []
    if not git("rev-parse", "--verify", "--quiet", f"{against}^{{commit}}"):
        shallow = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--is-shallow-repository"], capture_output=True, text=True
        ).stdout.strip()
        hint = " (this clone is shallow: fetch more history)" if shallow == "true" else ""
        print(f"buf: skipped, there is no commit {against}{hint}")
        return []
    if not git("cat-file", "-e", f"{against}:protos/buf.yaml"):
        print(f"buf: skipped, {against} has no protos/buf.yaml")
        return []
    result = subprocess.run(
        [_tool("BUF", "buf"), "breaking", "protos", "--against", f".git#ref={against},subdir=protos"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    print(f"buf: breaking against {against}: {'ok' if result.returncode == 0 else 'BREAKING'}")
    if result.returncode != 0:
        return [f"buf breaking against {against}:\n{(result.stdout + result.stderr).strip()}"]
    return []


STEPS: dict[str, Callable[[], list[str]]] = {
    "kubernetes": check_kubernetes,
    "compose": check_compose,
    "image": check_image_dependencies,
    "buf": check_buf,
}


def main(argv: list[str]) -> int:
    unknown = [a for a in argv if a not in STEPS]
    if unknown:
        print(f"unknown step(s) {', '.join(unknown)}; choose from {', '.join(STEPS)}")
        return 2
    problems = []
    for step in argv or list(STEPS):
        try:
            problems += [f"{step}: {p}" for p in STEPS[step]()]
        except (RuntimeError, OSError) as error:
            problems.append(f"{step}: {error}")
    for problem in problems:
        print(f"FAIL {problem}")
    print(f"deploy checks: {'FAILED, ' + str(len(problems)) + ' problem(s)' if problems else 'all passed'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
