#!/usr/bin/env bash
# Start a single-node Kubernetes cluster as host processes (no systemd, no
# registry): etcd, kube-apiserver, kube-controller-manager, kube-scheduler, a
# dedicated containerd, kubelet, kube-proxy, plus kwok with a fake GPU node.
# Idempotent: components already running are left alone.
# The last line printed is `export KUBECONFIG=PATH`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCRIPT_NAME=up
# shellcheck source=tests/cluster/lib.sh
source "$HERE/lib.sh"

[[ $EUID -eq 0 ]] || fail "up.sh must run as root (it starts a kubelet and containerd)"
lock_cluster
T0=$SECONDS

apt_install containerd runc containernetworking-plugins iptables conntrack socat openssl \
  gcc libc6-dev iproute2 ca-certificates curl
"$HERE/build.sh" >&2

NODE_IP="$(node_ip)"
mkdir -p "$CLUSTER_DIR" "$LOGS" "$PIDS" "$PKI"
chmod 700 "$PKI"

# --- kernel settings the node needs ------------------------------------------
sysctl -qw net.ipv4.ip_forward=1
modprobe br_netfilter 2>/dev/null || true
if [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]]; then
  sysctl -qw net.bridge.bridge-nf-call-iptables=1
fi

# --- certificates --------------------------------------------------------------
# sign NAME CN ORG [SAN]: a key pair and a CA-signed cert usable as server
# and client cert.
sign() {
  local name="$1" cn="$2" org="$3" san="${4:-}"
  local subj="/CN=$cn"; [[ -n "$org" ]] && subj="/O=$org/CN=$cn"
  local ext=(-addext "extendedKeyUsage=serverAuth,clientAuth" -addext "keyUsage=critical,digitalSignature,keyEncipherment")
  [[ -n "$san" ]] && ext+=(-addext "subjectAltName=$san")
  openssl genrsa -out "$PKI/$name.key" 2048 2>/dev/null
  openssl req -new -key "$PKI/$name.key" -subj "$subj" "${ext[@]}" -out "$PKI/$name.csr"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 3650 -copy_extensions copyall -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr"
}

pki_id="node=$NODE_IP name=$NODE_NAME svc=$SERVICE_IP"
if [[ "$(cat "$PKI/.id" 2>/dev/null)" != "$pki_id" ]]; then
  running kube-apiserver && fail "node identity changed ($pki_id); run tests/cluster/down.sh first"
  log "generating certificates ($pki_id)"
  rm -f "$PKI"/*
  openssl genrsa -out "$PKI/ca.key" 2048 2>/dev/null
  openssl req -x509 -new -key "$PKI/ca.key" -subj "/CN=reelkube-test-ca" -days 3650 \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$PKI/ca.crt"
  sign apiserver kube-apiserver "" \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,DNS:$NODE_NAME,IP:127.0.0.1,IP:$NODE_IP,IP:$SERVICE_IP"
  sign apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  sign admin reelkube-admin system:masters
  sign controller-manager system:kube-controller-manager ""
  sign scheduler system:kube-scheduler ""
  sign kube-proxy system:kube-proxy ""
  sign kubelet "system:node:$NODE_NAME" system:nodes "DNS:$NODE_NAME,DNS:localhost,IP:127.0.0.1,IP:$NODE_IP"
  sign kwok reelkube-kwok system:masters
  openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  echo "$pki_id" >"$PKI/.id"
fi

# kubeconfig NAME: $CLUSTER_DIR/NAME.kubeconfig using pki/NAME.{crt,key}.
kubeconfig() {
  cat >"$CLUSTER_DIR/$1.kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: reelkube
  cluster:
    certificate-authority: $PKI/ca.crt
    server: https://127.0.0.1:$APISERVER_PORT
users:
- name: $1
  user:
    client-certificate: $PKI/$1.crt
    client-key: $PKI/$1.key
contexts:
- name: reelkube
  context: {cluster: reelkube, user: $1}
current-context: reelkube
EOF
}
for k in admin controller-manager scheduler kube-proxy kubelet kwok; do kubeconfig "$k"; done

# --- etcd -----------------------------------------------------------------------
if ! running etcd; then
  start etcd "$BIN_DIR/etcd" --name reelkube --data-dir "$CLUSTER_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --advertise-client-urls "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "reelkube=http://127.0.0.1:$ETCD_PEER_PORT" \
    --quota-backend-bytes 2147483648 \
    --snapshot-count 10000 --log-level warn
fi
wait_until etcd 60 curl -fsS "http://127.0.0.1:$ETCD_CLIENT_PORT/health"

# --- kube-apiserver ---------------------------------------------------------------
# The audit log (tests/cluster/audit-policy.yaml: Events, RenderJob/TTSJob and Secret writes with
# their bodies) is what tests/e2e/test_secret_audit_cluster.py searches. The policy is copied
# into the cluster directory; an apiserver started without it, or with an older copy, is
# restarted once so the flags and the policy take effect (a warm start is otherwise untouched).
AUDIT_DIR="$CLUSTER_DIR/audit"
mkdir -p "$AUDIT_DIR"
chmod 700 "$AUDIT_DIR"
if ! cmp -s "$HERE/audit-policy.yaml" "$AUDIT_DIR/policy.yaml"; then
  cp "$HERE/audit-policy.yaml" "$AUDIT_DIR/policy.yaml.new"
  mv "$AUDIT_DIR/policy.yaml.new" "$AUDIT_DIR/policy.yaml"
  audit_changed=1
fi
if running kube-apiserver; then
  apiserver_pid="$(pid_of kube-apiserver)"
  if [[ -n "${audit_changed:-}" ]] ||
    ! tr '\0' '\n' <"/proc/$apiserver_pid/cmdline" | grep -qx -- "--audit-policy-file"; then
    log "restarting kube-apiserver (pid $apiserver_pid) with the audit policy"
    kill "$apiserver_pid"
    for _ in $(seq 300); do kill -0 "$apiserver_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$apiserver_pid" 2>/dev/null && kill -9 "$apiserver_pid"
    rm -f "$PIDS/kube-apiserver.pid"
  fi
fi
if ! running kube-apiserver; then
  start kube-apiserver "$BIN_DIR/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_CLIENT_PORT" \
    --bind-address 0.0.0.0 --secure-port "$APISERVER_PORT" --advertise-address "$NODE_IP" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --client-ca-file "$PKI/ca.crt" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --service-account-issuer https://kubernetes.default.svc \
    --service-account-key-file "$PKI/sa.pub" \
    --service-account-signing-key-file "$PKI/sa.key" \
    --kubelet-preferred-address-types InternalIP,Hostname \
    --authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
    --allow-privileged=true --profiling=false --event-ttl 1h \
    --storage-media-type application/vnd.kubernetes.protobuf \
    --audit-policy-file "$AUDIT_DIR/policy.yaml" --audit-log-path "$AUDIT_DIR/audit.log" \
    --audit-log-maxsize 100 --audit-log-maxbackup 3
fi
wait_until kube-apiserver 120 kubectl_admin get --raw /readyz

# --- controller-manager and scheduler ---------------------------------------------
if ! running kube-controller-manager; then
  cm="$CLUSTER_DIR/controller-manager.kubeconfig"
  start kube-controller-manager "$BIN_DIR/kube-controller-manager" \
    --kubeconfig "$cm" --authentication-kubeconfig "$cm" --authorization-kubeconfig "$cm" \
    --bind-address 127.0.0.1 --leader-elect=false \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --use-service-account-credentials=true \
    --cluster-signing-cert-file "$PKI/ca.crt" --cluster-signing-key-file "$PKI/ca.key" \
    --service-cluster-ip-range "$SERVICE_CIDR"
fi
if ! running kube-scheduler; then
  sc="$CLUSTER_DIR/scheduler.kubeconfig"
  start kube-scheduler "$BIN_DIR/kube-scheduler" \
    --kubeconfig "$sc" --authentication-kubeconfig "$sc" --authorization-kubeconfig "$sc" \
    --bind-address 127.0.0.1 --leader-elect=false
fi

# --- containerd (dedicated instance) -----------------------------------------------
mkdir -p "$CTRD_DIR" "$CTRD_ROOT" "$CNI_DIR/net.d"
cat >"$CNI_DIR/net.d/10-reelkube.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "reelkube",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$CNI_BRIDGE",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$CNI_DIR/ipam",
        "ranges": [[{"subnet": "$POD_CIDR", "gateway": "$POD_GATEWAY"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    },
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
cat >"$CTRD_DIR/config.toml" <<EOF
# Generated by tests/cluster/up.sh
version = 2
root = "$CTRD_ROOT"
state = "$CTRD_DIR/state"
[grpc]
  address = "$CTRD_SOCK"
[ttrpc]
  address = "$CTRD_SOCK.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  # No CAP_SYS_RESOURCE on these machines: never lower oom_score_adj.
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$CNI_DIR/net.d"
EOF
if ! running containerd; then
  start containerd containerd --config "$CTRD_DIR/config.toml"
fi
ctr_() { ctr -a "$CTRD_SOCK" -n k8s.io "$@"; }
wait_until containerd 60 ctr_ version

# The sandbox ("pause") image: a static C program packaged as a docker archive.
if ! ctr_ images ls -q | grep -qx "$PAUSE_IMAGE"; then
  log "building $PAUSE_IMAGE"
  tmp="$(mktemp -d)"
  gcc -static -Os -s -o "$tmp/pause" "$HERE/pause.c" || fail "compiling pause.c failed"
  mkdir -p "$tmp/img"
  tar -C "$tmp" --owner=0 --group=0 -cf "$tmp/img/layer.tar" pause
  layer_sha="$(sha256sum "$tmp/img/layer.tar" | cut -d' ' -f1)"
  printf '{"architecture":"amd64","os":"linux","config":{"Entrypoint":["/pause"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' \
    "$layer_sha" >"$tmp/img/config.json"
  printf '[{"Config":"config.json","RepoTags":["%s"],"Layers":["layer.tar"]}]' "$PAUSE_IMAGE" \
    >"$tmp/img/manifest.json"
  tar -C "$tmp/img" -cf "$tmp/pause.tar" manifest.json config.json layer.tar
  ctr_ images import "$tmp/pause.tar" >/dev/null || fail "importing the pause image failed"
  rm -rf "$tmp"
fi

# --- kubelet --------------------------------------------------------------------
mkdir -p "$KUBELET_DIR"
# Pods get the host's resolvers unless those live on loopback (unreachable from pods).
if grep -qE '^nameserver\s+127\.' /etc/resolv.conf; then
  grep -vE '^nameserver\s+127\.' /etc/resolv.conf >"$CLUSTER_DIR/resolv.conf"
else
  cp /etc/resolv.conf "$CLUSTER_DIR/resolv.conf"
fi
cat >"$CLUSTER_DIR/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$CTRD_SOCK
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
# No CAP_SYS_RESOURCE: the kubelet must not lower its own oom_score_adj.
oomScoreAdj: 0
address: 0.0.0.0
port: 10250
healthzBindAddress: 127.0.0.1
healthzPort: 10248
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
resolvConf: $CLUSTER_DIR/resolv.conf
# Images are imported, never pulled: never garbage-collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1Gi"
  imagefs.available: "1Gi"
  nodefs.inodesFree: "1000"
  imagefs.inodesFree: "1000"
hairpinMode: hairpin-veth
serializeImagePulls: false
maxPods: 110
EOF
if ! running kubelet; then
  start kubelet "$BIN_DIR/kubelet" --config "$CLUSTER_DIR/kubelet.yaml" \
    --kubeconfig "$CLUSTER_DIR/kubelet.kubeconfig" --root-dir "$KUBELET_DIR" \
    --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
    --node-labels "reelkube.io/node=real"
fi

# --- kube-proxy -------------------------------------------------------------------
cat >"$CLUSTER_DIR/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $CLUSTER_DIR/kube-proxy.kubeconfig
mode: iptables
clusterCIDR: $POD_CIDR
hostnameOverride: $NODE_NAME
bindAddress: 0.0.0.0
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the kernel's conntrack settings alone.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
  udpTimeout: 0s
  udpStreamTimeout: 0s
EOF
if ! running kube-proxy; then
  start kube-proxy "$BIN_DIR/kube-proxy" --config "$CLUSTER_DIR/kube-proxy.yaml"
fi

# --- kwok: fake nodes beside the real one --------------------------------------------
if ! running kwok; then
  start kwok "$BIN_DIR/kwok" --kubeconfig "$CLUSTER_DIR/kwok.kubeconfig" \
    --config "$CACHE_DIR/k8s-$K8S_VERSION/kwok-stages.yaml" \
    --manage-all-nodes=false \
    --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
    --node-lease-duration-seconds 40 --cidr 10.90.0.1/16 --node-ip 10.90.0.254 \
    --server-address 127.0.0.1:10247
fi

# --- wait for the node, then add the fake GPU node ------------------------------------
node_ready() {
  [[ "$(kubectl_admin get node "$NODE_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == "True" ]]
}
wait_until kubelet 180 node_ready
running kube-proxy || fail "kube-proxy exited" "$LOGS/kube-proxy.log"
running kube-controller-manager || fail "kube-controller-manager exited" "$LOGS/kube-controller-manager.log"
running kube-scheduler || fail "kube-scheduler exited" "$LOGS/kube-scheduler.log"

kubectl_admin apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Node
metadata:
  name: kwok-gpu-0
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: kwok-gpu-0
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    reelkube.io/gpu: "true"
    nvidia.com/gpu.present: "true"
spec:
  taints:
  - {key: nvidia.com/gpu, value: present, effect: NoSchedule}
status:
  allocatable: {cpu: "32", memory: 256Gi, pods: "110", nvidia.com/gpu: "4"}
  capacity: {cpu: "32", memory: 256Gi, pods: "110", nvidia.com/gpu: "4"}
EOF
kwok_ready() {
  [[ "$(kubectl_admin get node kwok-gpu-0 \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == "True" ]]
}
wait_until kwok 60 kwok_ready
wait_until kube-controller-manager 60 kubectl_admin -n default get serviceaccount default

log "cluster up in $((SECONDS - T0))s: node $NODE_NAME ($NODE_IP), kwok-gpu-0; logs in $LOGS"
echo "export KUBECONFIG=$ADMIN_KUBECONFIG"
