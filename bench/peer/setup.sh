#!/usr/bin/env bash
# Create bench/.peer-venv: django-post-office (the delivery benchmark's peer) in a virtual
# environment of its own, so that neither Django nor its dependencies touch Postroom's .venv.
# Idempotent: does nothing when the environment already has the pinned packages.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
venv="${PEER_VENV:-$here/../.peer-venv}"
python="${PYTHON:-python3}"
stamp="$venv/.installed"

if [[ -f "$stamp" && "$stamp" -nt "$here/requirements.txt" ]]; then
    exit 0
fi
"$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
touch "$stamp"
