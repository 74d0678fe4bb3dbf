#!/usr/bin/env bash
# The deploy checks CI runs: bash deploy/check.sh [kubernetes] [compose] [image] [buf]
# (all by default). Needs kubectl (with kustomize) on PATH or in KUBECTL, and the project's venv
# (kubernetes-validate, PyYAML, buf). deploy/check.py says what each step proves.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
[[ -x "$python" ]] || python="$(command -v python3)"
exec "$python" "$root/deploy/check.py" "$@"
