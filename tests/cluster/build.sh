#!/usr/bin/env bash
# Build the binaries of the offline test cluster from the Go module proxy:
#   kube (one multi-call binary: kube-apiserver, kube-controller-manager,
#         kube-scheduler, kubelet, kube-proxy, kubectl), etcd, kwok, helm,
#   reelkube-s3server (tests/s3server: gofakes3 behind SigV4 verification),
#   reelkube-kstatus (tests/kstatus: what kstatus says of each object a watch prints).
# Optional, not in the default set: kueue (sigs.k8s.io/kueue's manager, for
#   tests/e2e/test_kueue_cluster.py; `make kueue-test`).
# Output: ${REELKUBE_CACHE:-$HOME/.cache/reelkube}/k8s-<version>/bin/
# Each component has a version stamp; a component is rebuilt only when its
# stamp differs (version bump or a change of this script's build recipe).
#
# Usage: tests/cluster/build.sh [component...]   (default: all)
#        tests/cluster/build.sh --print-bin-dir
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tests/cluster/versions.sh
source "$HERE/versions.sh"

# Bump when the build recipe changes in a way that needs a rebuild.
RECIPE=1

if [[ "${1:-}" == "--print-bin-dir" ]]; then
  echo "$BIN_DIR"
  exit 0
fi

export GOMODCACHE="${GOMODCACHE:-$HOME/go/pkg/mod}"
export GOCACHE="${GOCACHE:-$HOME/.cache/go-build}"
export GOPROXY="${GOPROXY:-https://proxy.golang.org}"
export GOFLAGS="-mod=mod"
export GOTOOLCHAIN=local
export CGO_ENABLED=0
WORK="$CACHE_DIR/build"
LOG_DIR="$CACHE_DIR/logs"
mkdir -p "$BIN_DIR" "$WORK" "$LOG_DIR"

log() { echo "[build $(date +%H:%M:%S)] $*" >&2; }

# need_go: a Go >= 1.26 on PATH, else the toolchain zip from the Go module
# proxy (the same file GOTOOLCHAIN downloads) unpacked under the cache.
need_go() {
  local have
  have="$(go env GOVERSION 2>/dev/null || true)"
  if [[ "$have" =~ ^go1\.([0-9]+) ]] && ((BASH_REMATCH[1] >= 26)); then return; fi
  local dir="$CACHE_DIR/go-$GO_VERSION"
  if [[ ! -x "$dir/bin/go" ]]; then
    log "no Go >= 1.26 on PATH (found '${have:-none}'); fetching go$GO_VERSION from $GOPROXY"
    local mod="golang.org/toolchain@v0.0.1-go$GO_VERSION.linux-amd64" tmp
    tmp="$(mktemp -d)"
    curl -fsSL -o "$tmp/go.zip" "${GOPROXY%%,*}/golang.org/toolchain/@v/v0.0.1-go$GO_VERSION.linux-amd64.zip" ||
      { echo "downloading the Go toolchain failed" >&2; exit 1; }
    command -v unzip >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q unzip >/dev/null
    unzip -q "$tmp/go.zip" -d "$tmp"
    rm -rf "$dir"; mkdir -p "$CACHE_DIR"; mv "$tmp/$mod" "$dir"; rm -rf "$tmp"
  fi
  export PATH="$dir/bin:$PATH"
}

# run_logged NAME CMD...: run with output to a log; on failure show its tail.
run_logged() {
  local name="$1"; shift
  local logf="$LOG_DIR/$name.log"
  if ! "$@" >>"$logf" 2>&1; then
    echo "build step '$name' failed; last lines of $logf:" >&2
    tail -n 40 "$logf" >&2
    exit 1
  fi
}

stamp_ok() { [[ -f "$BIN_DIR/.$1.stamp" && "$(cat "$BIN_DIR/.$1.stamp")" == "$2" && -x "$BIN_DIR/$3" ]]; }
write_stamp() { echo "$2" >"$BIN_DIR/.$1.stamp"; }

build_kube() {
  local stamp="kube=$K8S_VERSION recipe=$RECIPE"
  if stamp_ok kube "$stamp" kube; then log "kube $K8S_VERSION up to date"; return; fi
  need_go
  local start=$SECONDS dir="$WORK/kube-$K8S_VERSION"
  local staging_version="v0.${K8S_VERSION#v1.}"
  log "building kube $K8S_VERSION (staging $staging_version); log: $LOG_DIR/kube.log"
  : >"$LOG_DIR/kube.log"
  rm -rf "$dir"; mkdir -p "$dir"
  # The staging modules are replaced by ./staging paths in k8s.io/kubernetes'
  # go.mod; pin each one to its published v0.X.Y instead.
  local gomod
  gomod="$(cd "$dir" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
  [[ -f "$gomod" ]] || { echo "could not download k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }
  {
    echo "module reelkube.local/kube"
    echo
    echo "go 1.25.0"
    echo
    echo "require k8s.io/kubernetes $K8S_VERSION"
    echo
    grep -E '^\s*k8s\.io/[a-z0-9-]+ => \./staging/' "$gomod" |
      awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}'
  } >"$dir/go.mod"
  cp "$HERE/kube/main.go" "$dir/main.go"
  (cd "$dir" && run_logged kube go mod tidy)
  local now; now="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  local minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  local ld="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitCommit=0000000000000000000000000000000000000000"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$now"
  done
  (cd "$dir" && run_logged kube go build -trimpath -ldflags "$ld" -o "$BIN_DIR/kube.new" .)
  mv "$BIN_DIR/kube.new" "$BIN_DIR/kube"
  for c in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
    ln -sfn kube "$BIN_DIR/$c"
  done
  write_stamp kube "$stamp"
  log "kube built in $((SECONDS - start))s"
}

build_etcd() {
  local stamp="etcd=$ETCD_VERSION recipe=$RECIPE"
  if stamp_ok etcd "$stamp" etcd; then log "etcd $ETCD_VERSION up to date"; return; fi
  need_go
  local start=$SECONDS dir="$WORK/etcd-$ETCD_VERSION"
  log "building etcd $ETCD_VERSION; log: $LOG_DIR/etcd.log"
  : >"$LOG_DIR/etcd.log"
  rm -rf "$dir"; mkdir -p "$dir"
  # etcd's server/go.mod replaces its sibling modules with local paths, so
  # `go install` refuses it; a wrapper module requiring the same versions works.
  cat >"$dir/go.mod" <<EOF
module reelkube.local/etcd

go 1.25.0

require (
	go.etcd.io/etcd/server/v3 $ETCD_VERSION
	go.etcd.io/etcd/api/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/pkg/v3 $ETCD_VERSION
	go.etcd.io/etcd/client/v3 $ETCD_VERSION
	go.etcd.io/etcd/pkg/v3 $ETCD_VERSION
)
EOF
  cat >"$dir/main.go" <<'EOF'
// Command etcd runs the etcd server (go.etcd.io/etcd/server/v3/etcdmain).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
EOF
  (cd "$dir" && run_logged etcd go mod tidy)
  local sha="reelkube-build"
  (cd "$dir" && run_logged etcd go build -trimpath \
    -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$sha" -o "$BIN_DIR/etcd.new" .)
  mv "$BIN_DIR/etcd.new" "$BIN_DIR/etcd"
  write_stamp etcd "$stamp"
  log "etcd built in $((SECONDS - start))s"
}

# go_install NAME PKG VERSION: a module without replace directives.
go_install() {
  local name="$1" pkg="$2" version="$3"
  local stamp="$name=$version recipe=$RECIPE"
  if stamp_ok "$name" "$stamp" "$name"; then log "$name $version up to date"; return; fi
  need_go
  local start=$SECONDS
  log "building $name $version; log: $LOG_DIR/$name.log"
  : >"$LOG_DIR/$name.log"
  local ld="-s -w"
  case "$name" in
    helm) ld+=" -X helm.sh/helm/v3/internal/version.version=$version" ;;
    kwok) ld+=" -X sigs.k8s.io/kwok/pkg/consts.Version=$version" ;;
    kueue) ld+=" -X sigs.k8s.io/kueue/pkg/version.GitVersion=$version" ;;
  esac
  (cd "$WORK" && GOBIN="$BIN_DIR/.gobin" run_logged "$name" \
    go install -trimpath -ldflags "$ld" "$pkg@$version")
  mv "$BIN_DIR/.gobin/$name" "$BIN_DIR/$name"
  write_stamp "$name" "$stamp"
  log "$name built in $((SECONDS - start))s"
}

# kwok's binary has no built-in stages (kwokctl passes them); assemble the
# defaults kwokctl uses from the same module version: node init, heartbeat
# with lease, and the fast pod stages (ready, complete for Job pods, delete).
kwok_stages() {
  local dir out="$CACHE_DIR/k8s-$K8S_VERSION/kwok-stages.yaml"
  dir="$(cd "$WORK" && go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  [[ -d "$dir" ]] || { echo "could not download sigs.k8s.io/kwok@$KWOK_VERSION" >&2; exit 1; }
  local f first=1
  : >"$out.new"
  for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
    pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
    [[ $first -eq 1 ]] || echo "---" >>"$out.new"
    first=0
    cat "$dir/kustomize/stage/$f" >>"$out.new"
  done
  mv "$out.new" "$out"
}

# A Go program of the project's own (tests/<name>, binary reelkube-<name>), built from its
# checked-in go.mod/go.sum. Its stamp is the version of the module it is about and a hash of its
# sources, so an edit to them rebuilds it. Its Go tests run first: no binary from code that
# fails them.
#   build_own_tool NAME MODULE VERSION LABEL
build_own_tool() {
  local name="$1" module="$2" version="$3" label="$4" src="$HERE/../$1" sum stamp
  sum="$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-16)"
  stamp="$name=$version src=$sum recipe=$RECIPE"
  if stamp_ok "$name" "$stamp" "reelkube-$name"; then log "reelkube-$name up to date"; return; fi
  grep -q "$module $version" "$src/go.mod" ||
    { echo "tests/$name/go.mod does not require $module $version (versions.sh)" >&2; exit 1; }
  need_go
  local start=$SECONDS
  log "building reelkube-$name ($label $version); log: $LOG_DIR/$name.log"
  : >"$LOG_DIR/$name.log"
  # -mod=readonly: the build never rewrites the checked-in go.mod/go.sum. -trimpath in the tests
  # as in the build, so the packages the tests compiled are not compiled again for it.
  (cd "$src" && GOFLAGS=-mod=readonly run_logged "$name" go test -trimpath -count=1 .)
  (cd "$src" && GOFLAGS=-mod=readonly run_logged "$name" go build -trimpath \
    -ldflags "-s -w -X main.version=$label-$version+$sum" -o "$BIN_DIR/reelkube-$name.new" .)
  mv "$BIN_DIR/reelkube-$name.new" "$BIN_DIR/reelkube-$name"
  write_stamp "$name" "$stamp"
  log "reelkube-$name built in $((SECONDS - start))s"
}

# The project's own S3 server (tests/s3server): gofakes3 behind SigV4 verification, tested with
# AWS's documented signatures, accepted and tampered.
build_s3server() { build_own_tool s3server github.com/johannesboyne/gofakes3 "$GOFAKES3_VERSION" gofakes3; }

# What kstatus (sigs.k8s.io/cli-utils' status package, as Flux and kpt use it) says of each
# object a watch prints (tests/kstatus).
build_kstatus() { build_own_tool kstatus sigs.k8s.io/cli-utils "$CLI_UTILS_VERSION" cli-utils; }

# Kueue's Helm chart (CRDs, RBAC, webhook configurations, the manager's Deployment and config)
# from the same module version: tests/e2e/test_kueue_cluster.py renders it with `helm template`.
kueue_config() {
  local dir out="$CACHE_DIR/kueue-$KUEUE_VERSION"
  dir="$(cd "$WORK" && go mod download -json "sigs.k8s.io/kueue@$KUEUE_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
  [[ -d "$dir" ]] || { echo "could not download sigs.k8s.io/kueue@$KUEUE_VERSION" >&2; exit 1; }
  rm -rf "$out.new"; mkdir -p "$out.new"
  cp -r "$dir/charts/kueue" "$out.new/chart"
  chmod -R u+w "$out.new"
  rm -rf "$out"; mv "$out.new" "$out"
}

components=("$@")
[[ ${#components[@]} -gt 0 ]] || components=(kube etcd kwok helm s3server)
for c in "${components[@]}"; do
  case "$c" in
    kube) build_kube ;;
    etcd) build_etcd ;;
    kwok)
      go_install kwok sigs.k8s.io/kwok/cmd/kwok "$KWOK_VERSION"
      [[ -f "$CACHE_DIR/k8s-$K8S_VERSION/kwok-stages.yaml" ]] || kwok_stages
      ;;
    helm) go_install helm helm.sh/helm/v3/cmd/helm "$HELM_VERSION" ;;
    s3server) build_s3server ;;
    kstatus) build_kstatus ;;
    # Not in the default set: only the Kueue cluster test needs it (a cold build takes minutes).
    kueue)
      go_install kueue sigs.k8s.io/kueue/cmd/kueue "$KUEUE_VERSION"
      [[ -f "$CACHE_DIR/kueue-$KUEUE_VERSION/chart/Chart.yaml" ]] || kueue_config
      ;;
    *) echo "unknown component: $c" >&2; exit 2 ;;
  esac
done
log "binaries in $BIN_DIR"
