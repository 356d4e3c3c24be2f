# Versions and paths shared by the cluster scripts (sourced, not executed).
# Pinned so a warm cache needs no network; bump here to rebuild.
K8S_VERSION="${K8S_VERSION:-v1.35.4}"   # newest 1.35 patch on proxy.golang.org
ETCD_VERSION="${ETCD_VERSION:-v3.6.16}"
KWOK_VERSION="${KWOK_VERSION:-v0.8.0}"
HELM_VERSION="${HELM_VERSION:-v3.22.0}"
# Kueue (optional: `build.sh kueue`, `make kueue-test`), the job-queueing controller.
KUEUE_VERSION="${KUEUE_VERSION:-v0.15.0}"
# The S3 server of tests/s3server (its go.mod must require the same version).
GOFAKES3_VERSION="${GOFAKES3_VERSION:-v1.2.0}"
# kstatus (sigs.k8s.io/cli-utils), the status library of Flux and kpt, in tests/kstatus'
# reelkube-kstatus (its go.mod must require the same version).
CLI_UTILS_VERSION="${CLI_UTILS_VERSION:-v0.37.2}"
# Go used when PATH has none new enough (etcd, kwok and helm need Go >= 1.26).
GO_VERSION="${GO_VERSION:-1.26.8}"

CACHE_DIR="${REELKUBE_CACHE:-$HOME/.cache/reelkube}"
BIN_DIR="$CACHE_DIR/k8s-$K8S_VERSION/bin"
CLUSTER_DIR="${REELKUBE_CLUSTER_DIR:-/tmp/reelkube-cluster}"
