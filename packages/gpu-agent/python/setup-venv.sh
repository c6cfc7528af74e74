#!/usr/bin/env bash
# Creates (or refreshes) the worker's virtualenv and installs requirements.txt into it.
#   packages/gpu-agent/python/setup-venv.sh [--python PYTHON] [--venv DIR]
# Idempotent: when the venv already holds exactly these requirements (a stamp with their hash)
# and fastai imports, it says so and exits in about a second. pip's cache is reused, so a rebuild
# after a change only downloads what is new.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
python=${GPULINK_BASE_PYTHON:-python3}
venv=${GPULINK_VENV:-$here/.venv}
while [ $# -gt 0 ]; do
  case "$1" in
    --python) python=$2; shift 2 ;;
    --venv) venv=$2; shift 2 ;;
    -h|--help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "setup-venv: unknown option $1" >&2; exit 2 ;;
  esac
done
say() { printf 'setup-venv: %s\n' "$*"; }

want=$( (cat "$here/requirements.txt" "$here/pyproject.toml"; "$python" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)
stamp="$venv/.gpulink-requirements.sha256"
# Reading installed versions from package metadata takes milliseconds; importing torch takes seconds.
versions() { "$venv/bin/python" -c 'import importlib.metadata as m; print("torch", m.version("torch") + ", fastai", m.version("fastai"))'; }
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && installed=$(versions 2>/dev/null); then
  say "up to date: $venv ($installed)"
  exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
  say "creating virtualenv $venv with $("$python" --version 2>&1)"
  "$python" -m venv "$venv"
fi
say "installing requirements.txt (the first time downloads torch with its CUDA libraries, about 3-4 GB)"
"$venv/bin/python" -m pip install --disable-pip-version-check --progress-bar off -q -r "$here/requirements.txt"
say "installing gpulink_worker (editable)"
"$venv/bin/python" -m pip install --disable-pip-version-check -q --no-deps -e "$here"
"$venv/bin/python" -c 'import fastai.vision.all, fastai.tabular.all'
echo "$want" > "$stamp"
say "ready: $venv ($(versions), $(du -sh "$venv" | cut -f1))"
