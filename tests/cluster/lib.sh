# Helpers shared by the cluster scripts (sourced, not executed).
# shellcheck shell=bash
# shellcheck source=tests/cluster/versions.sh
source "$(dirname "${BASH_SOURCE[0]}")/versions.sh"

PKI="$CLUSTER_DIR/pki"
LOGS="$CLUSTER_DIR/logs"
PIDS="$CLUSTER_DIR/pids"
CTRD_DIR="$CLUSTER_DIR/containerd"
CTRD_SOCK="$CTRD_DIR/containerd.sock"
# containerd's root (its images and their unpacked layers) lives in the cache, not in the cluster
# directory: down.sh removes the cluster's containers but keeps the images, so the next start does
# not load the renderer and operator images again (about 90 s per start on a 2-core machine).
CTRD_ROOT="$CACHE_DIR/containerd-root"
KUBELET_DIR="$CLUSTER_DIR/kubelet"
CNI_DIR="$CLUSTER_DIR/cni"
ADMIN_KUBECONFIG="$CLUSTER_DIR/admin.kubeconfig"

NODE_NAME="${REELKUBE_NODE_NAME:-reelkube-node}"
POD_CIDR="10.88.0.0/16"
POD_GATEWAY="10.88.0.1"
CNI_BRIDGE="cni0"
SERVICE_CIDR="10.96.0.0/16"
SERVICE_IP="10.96.0.1"
APISERVER_PORT=6443
ETCD_CLIENT_PORT=2379
ETCD_PEER_PORT=2380
S3_PORT="${REELKUBE_S3_PORT:-9000}"
PAUSE_IMAGE="reelkube.local/pause:3.10"

log() { echo "[${SCRIPT_NAME:-cluster} $(date +%H:%M:%S)] $*" >&2; }

# fail MESSAGE [LOGFILE]: print the message and the tail of the log, exit 1.
fail() {
  echo "ERROR: $1" >&2
  if [[ -n "${2:-}" && -f "$2" ]]; then
    echo "--- last lines of $2 ---" >&2
    tail -n 40 "$2" >&2
    echo "---" >&2
  fi
  exit 1
}

# The address other hosts (and pods, via kube-proxy) reach this node on.
node_ip() {
  if [[ -n "${REELKUBE_NODE_IP:-}" ]]; then echo "$REELKUBE_NODE_IP"; return; fi
  local ip
  ip="$(ip -4 route get 1.1.1.1 2>/dev/null | sed -n 's/.* src \([0-9.]*\).*/\1/p' | head -n1)"
  [[ -n "$ip" ]] || ip="$(hostname -I | awk '{print $1}')"
  [[ -n "$ip" ]] || fail "cannot determine the node IP; set REELKUBE_NODE_IP"
  echo "$ip"
}

# apt_install PKG...: install the Debian packages that are missing (idempotent;
# no network when everything is present).
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  log "apt-get install ${missing[*]}"
  local aptlog="$CACHE_DIR/logs/apt.log"
  mkdir -p "$CACHE_DIR/logs"
  { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -q &&
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"; } \
    >>"$aptlog" 2>&1 || fail "apt-get install ${missing[*]} failed" "$aptlog"
}

pid_of() { [[ -f "$PIDS/$1.pid" ]] && cat "$PIDS/$1.pid"; }

# running NAME: the process recorded for NAME is alive and is still that
# program (a stale pid file may name a reused PID).
running() {
  local pid argv0
  pid="$(pid_of "$1" 2>/dev/null)" || return 1
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
  argv0="$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1)"
  [[ ! -f "$PIDS/$1.argv0" || "$argv0" == "$(cat "$PIDS/$1.argv0")" ]]
}

# start NAME CMD...: start CMD in its own session, log to $LOGS/NAME.log.
start() {
  local name="$1"; shift
  mkdir -p "$LOGS" "$PIDS"
  echo "=== start $(date -Is): $*" >>"$LOGS/$name.log"
  # The daemon keeps none of its starter's open files beyond stdio: one started under a caller's
  # flock (`flock /tmp/reelkube-cluster.lock pytest ...`) held that lock for as long as it ran,
  # and every later `flock` waited forever.
  (
    for fd in /proc/"$BASHPID"/fd/*; do
      fd="${fd##*/}"
      if ((fd > 2)); then eval "exec $fd>&-"; fi
    done
    exec setsid "$@"
  ) >>"$LOGS/$name.log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PIDS/$name.pid"
  echo "$1" >"$PIDS/$name.argv0"
  # Until the subshell and then setsid have exec'd, the PID shows their argv.
  for _ in $(seq 50); do
    [[ "$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1)" != "$1" ]] || break
    sleep 0.02
  done
  log "started $name (pid $pid)"
}

# wait_until NAME TIMEOUT_S CMD...: retry CMD until it succeeds, or fail with
# the tail of NAME's log (and if NAME's process died, say so).
wait_until() {
  local name="$1" timeout="$2"; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [[ -f "$PIDS/$name.pid" ]] && ! running "$name"; then
      fail "$name exited" "$LOGS/$name.log"
    fi
    ((SECONDS < deadline)) || fail "timed out after ${timeout}s waiting for $name ($*)" "$LOGS/$name.log"
    sleep 1
  done
}

# lock_cluster: serialize up.sh/down.sh (test sessions may start them at once). Its own file, so a
# caller may hold /tmp/reelkube-cluster.lock around a whole test run without blocking them.
lock_cluster() {
  exec 9>"$CLUSTER_DIR.scripts.lock"
  flock -w 900 9 || fail "another up.sh/down.sh holds $CLUSTER_DIR.scripts.lock"
}

kubectl_admin() { "$BIN_DIR/kubectl" --kubeconfig "$ADMIN_KUBECONFIG" "$@"; }
