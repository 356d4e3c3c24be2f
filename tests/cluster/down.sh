#!/usr/bin/env bash
# Stop the test cluster started by up.sh and remove everything it left:
# pods and their sandboxes, the processes (by recorded PID), mounts under the
# cluster directory, the CNI bridge, veths and iptables chains, the kubelet's
# cgroups, and the cluster directory itself. Safe to run when nothing runs.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRIPT_NAME=down
# shellcheck source=tests/cluster/lib.sh
source "$HERE/lib.sh"

[[ $EUID -eq 0 ]] || fail "down.sh must run as root"
lock_cluster

# stop NAME: SIGTERM the recorded process, SIGKILL after 15 s.
stop() {
  local name="$1" pid
  pid="$(pid_of "$name" 2>/dev/null)" || return 0
  if running "$name"; then
    kill "$pid" 2>/dev/null
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$name (pid $pid) ignored SIGTERM; killing"
      kill -9 "$pid" 2>/dev/null
    fi
    log "stopped $name (pid $pid)"
  fi
  rm -f "$PIDS/$name.pid" "$PIDS/$name.argv0"
}

ctr_() { ctr -a "$CTRD_SOCK" -n k8s.io "$@"; }

# 1. Nothing new may be created or scheduled while pods drain.
stop kwok
stop kube-controller-manager
stop kube-scheduler

# 2. Let the kubelet stop the pods, so the CNI plugin tears their networks down.
if running kubelet && running kube-apiserver; then
  kubectl_admin delete pods --all-namespaces --all --grace-period=0 --force --wait=false \
    >/dev/null 2>&1 || true
  for _ in $(seq 60); do
    [[ -z "$(ctr_ tasks ls -q 2>/dev/null)" ]] && break
    sleep 1
  done
fi
stop kubelet
stop kube-proxy

# 3. Whatever is still running in our containerd: kill it.
if running containerd; then
  for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks kill -s SIGKILL "$t" >/dev/null 2>&1; done
  sleep 1
  for t in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks delete -f "$t" >/dev/null 2>&1; done
fi
# The root (and its images) stays in the cache for the next start; the containers go, so the
# next kubelet starts with no pods of this one.
if running containerd; then
  for c in $(ctr_ containers ls -q 2>/dev/null); do ctr_ containers delete "$c" >/dev/null 2>&1; done
fi
stop containerd
rm -rf "$CTRD_ROOT/io.containerd.grpc.v1.cri/containers" "$CTRD_ROOT/io.containerd.grpc.v1.cri/sandboxes"
# Shims outlive containerd; ours are the ones started with our socket.
for pid in $(pgrep -f "containerd-shim-runc-v2 .*-address $CTRD_SOCK" 2>/dev/null); do
  log "killing leftover shim $pid"
  kill -9 "$pid" 2>/dev/null
done

stop kube-apiserver
stop etcd

# 4. kube-proxy's iptables rules.
if [[ -x "$BIN_DIR/kube-proxy" ]]; then
  "$BIN_DIR/kube-proxy" --cleanup >/dev/null 2>&1 || true
fi

# 5. Mounts under the cluster directory (pod volumes, overlay rootfs, netns).
if [[ -d "$CLUSTER_DIR" ]]; then
  for _ in 1 2 3; do
    mapfile -t mounts < <(awk -v d="$CLUSTER_DIR/" 'index($2, d) == 1 {print $2}' /proc/self/mounts | sort -r)
    [[ ${#mounts[@]} -eq 0 ]] && break
    for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true; done
  done
fi

# 6. The bridge, its veths and the CNI plugin's iptables chains.
if ip link show "$CNI_BRIDGE" >/dev/null 2>&1; then
  for veth in $(ip -o link show master "$CNI_BRIDGE" | awk -F': ' '{print $2}' | cut -d@ -f1); do
    ip link delete "$veth" 2>/dev/null || true
  done
  ip link delete "$CNI_BRIDGE" 2>/dev/null && log "deleted bridge $CNI_BRIDGE"
fi
# Only this cluster uses CNI or the kubelet/kube-proxy chains on these
# machines, so every CNI-* and KUBE-* chain is ours (kube-proxy --cleanup
# leaves the kubelet's KUBE-FIREWALL and canary chains).
for ipt in iptables ip6tables; do
  command -v "$ipt" >/dev/null || continue
  for table in nat filter mangle; do
    "$ipt" -t "$table" -S 2>/dev/null | grep -E '^-A .* -j (CNI|KUBE)-' | sed 's/^-A/-D/' |
      while read -r rule; do eval "$ipt -t $table $rule" 2>/dev/null || true; done
    chains="$("$ipt" -t "$table" -S 2>/dev/null | awk '/^-N (CNI|KUBE)-/ {print $2}')"
    for chain in $chains; do "$ipt" -t "$table" -F "$chain" 2>/dev/null || true; done
    for chain in $chains; do "$ipt" -t "$table" -X "$chain" 2>/dev/null || true; done
  done
done

# 7. The kubelet's cgroups (empty once every pod process is gone).
for ctl in /sys/fs/cgroup/*/; do
  [[ -d "$ctl/kubepods" ]] || continue
  find "$ctl/kubepods" -depth -type d -exec rmdir {} + 2>/dev/null || true
done

# 8. The state directory.
if [[ -d "$CLUSTER_DIR" ]]; then
  if awk -v d="$CLUSTER_DIR/" 'index($2, d) == 1 {found=1} END {exit !found}' /proc/self/mounts; then
    fail "mounts remain under $CLUSTER_DIR; not deleting it"
  fi
  rm -rf "$CLUSTER_DIR"
  log "removed $CLUSTER_DIR"
fi
log "cluster down"
