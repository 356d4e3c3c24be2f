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
lint-imports
reelkube crds --check

stop_cluster() {
  if [ "${REELKUBE_SKIP_CLUSTER:-0}" != 1 ] && [ "${REELKUBE_KEEP_CLUSTER:-0}" != 1 ]; then
    tests/cluster/s3.sh stop >/dev/null 2>&1 || true
    tests/cluster/down.sh >/dev/null 2>&1 || true
  fi
}
trap stop_cluster EXIT

# The cluster's binaries and images are built here, before pytest, each under its own time limit:
# inside pytest a cold Kubernetes build ran past the per-test timeout, and tools that did not yet
# exist at collection time turned their tests into skips.
if [ "${REELKUBE_SKIP_CLUSTER:-0}" != 1 ]; then
  t0=$SECONDS
  echo "== cluster: build binaries and start (cold: tens of minutes; warm: seconds)"
  timeout 3000 tests/cluster/up.sh >/dev/null
  echo "   cluster up after $((SECONDS - t0)) s"
  echo "== images: base, renderer, operator"
  timeout 2400 tests/cluster/images.sh all >/dev/null
  echo "   images loaded after $((SECONDS - t0)) s"
  timeout 600 tests/cluster/s3.sh start >/dev/null
  REELKUBE_HELM="$(tests/cluster/build.sh --print-bin-dir)/helm"
  export REELKUBE_HELM
  # A tool a test needs is a failure from here on, not a skip.
  export REELKUBE_REQUIRE_TOOLS=1
else
  # The tests' S3 server (Go, about 2 min cold) is built here too, not inside a test's time limit.
  timeout 900 tests/cluster/build.sh s3server >/dev/null
fi

echo "== tests"
# Two workers (pytest-xdist): the cluster tests run one after the other in one of them (they share
# the cluster and its operator release; tests/support/cluster.py groups them), the unit and media
# tests in the other meanwhile. REELKUBE_TEST_WORKERS=0 runs everything in this process.
# The slowest tests are printed at the end: where the run's minutes go.
# The fault-injection tests (mark `faults`: a killed operator, a deleted render pod) are a suite of
# their own, `make test-faults` (REELKUBE_TEST_MARKS=faults); so are the tests with Kueue itself
# running (mark `kueue`, `make kueue-test`: Kueue's build takes about 20 min cold).
$PYTHON -m pytest -n "${REELKUBE_TEST_WORKERS:-2}" --dist loadgroup \
  -m "${REELKUBE_TEST_MARKS:-not faults and not kueue}" \
  -ra -p no:cacheprovider --durations=30 "$@"
