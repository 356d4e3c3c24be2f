#!/usr/bin/env bash
# Installs what the engine and the tests need on a Debian 12 machine: ffmpeg and fonts,
# Lua (the Argo CD health-check tests), tmux (the terminal progress tests), and the Python package with its dev extra.
# Idempotent and quiet; the cluster's own needs (docker.io, containerd, Go builds) are
# installed by tests/cluster/*.sh when the cluster tests run.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(ffmpeg fontconfig fonts-dejavu-core fonts-noto-core fonts-noto-color-emoji fonts-symbola fonts-wqy-microhei lua5.4 procps tmux)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "install-deps: apt-get install ${missing[*]}"
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
stamp=".install-stamp"
# Reinstall when the package is missing or installed from another checkout (editable installs
# point at one work tree; a second clone must not test the first one's code).
installed=$($PYTHON -c "import reelkube, os; print(os.path.realpath(reelkube.__file__))" 2>/dev/null || true)
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] \
   || [ "$installed" != "$(realpath operator/reelkube/__init__.py)" ]; then
  echo "install-deps: pip install -e .[dev]"
  $PYTHON -m pip install -q --disable-pip-version-check -e ".[dev]" 2>&1 | grep -v "Running pip as the 'root' user" || true
  $PYTHON -c "import reelkube, piper, kopf, boto3" # fail loudly if the install did not take
  touch "$stamp"
fi
