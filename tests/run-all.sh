#!/usr/bin/env bash
# The whole test suite in one pytest run: lint first, then every test. Tests marked `cluster`
# start the real single-node cluster themselves (tests/cluster/up.sh, cached builds under
# ~/.cache/reelkube); REELKUBE_SKIP_CLUSTER=1 skips them. The cluster is stopped at the end
# unless REELKUBE_KEEP_CLUSTER=1.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

echo "== lint"
ruff check operator tests
ruff format --check operator tests
mypy operator/reelkube
reelkube crds --check

stop_cluster() {
  if [ "${REELKUBE_SKIP_CLUSTER:-0}" != 1 ] && [ "${REELKUBE_KEEP_CLUSTER:-0}" != 1 ]; then
    tests/cluster/s3.sh stop >/dev/null 2>&1 || true
    tests/cluster/down.sh >/dev/null 2>&1 || true
  fi
}
trap stop_cluster EXIT

echo "== tests"
$PYTHON -m pytest -ra -p no:cacheprovider "$@"
