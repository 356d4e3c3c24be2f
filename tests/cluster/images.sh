#!/usr/bin/env bash
# Build the container images without any registry and load them into the test
# cluster's containerd.
#   base      reelkube/base:bookworm  (debootstrap minbase + python3, docker import; cached)
#   renderer  reelkube/renderer:dev   (Dockerfile.renderer)
#   operator  reelkube/operator:dev   (Dockerfile.operator)
#   storage   reelkube/storage:dev    (tests/s3server/Dockerfile around the binary build.sh makes)
#   kueue     reelkube/kueue:dev      (Kueue's manager from `build.sh kueue`; only when named)
# Usage: tests/cluster/images.sh [base|renderer|operator|storage|kueue|all]...   (default: all)
# A private dockerd (own data root under the cache, own socket) is started when
# needed and stopped again at the end. Images are loaded into the cluster's
# containerd when it runs (skipped when the same image ID is already there).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
SCRIPT_NAME=images
# shellcheck source=tests/cluster/lib.sh
source "$HERE/lib.sh"

BASE_IMAGE="${REELKUBE_BASE_IMAGE:-reelkube/base:bookworm}"
RENDERER_IMAGE="${REELKUBE_RENDERER_IMAGE:-reelkube/renderer:dev}"
OPERATOR_IMAGE="${REELKUBE_OPERATOR_IMAGE:-reelkube/operator:dev}"
STORAGE_IMAGE="${REELKUBE_STORAGE_IMAGE:-reelkube/storage:dev}"
KUEUE_IMAGE="${REELKUBE_KUEUE_IMAGE:-reelkube/kueue:dev}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DOCKER_ROOT="$CACHE_DIR/docker"
DOCKER_RUN="/run/reelkube-docker"
DOCKER_SOCK="$DOCKER_RUN/docker.sock"
IMG_LOGS="$CACHE_DIR/logs"

[[ $EUID -eq 0 ]] || fail "images.sh must run as root (debootstrap, dockerd)"
mkdir -p "$IMG_LOGS"
T0=$SECONDS

targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(all)
want() { local t; for t in "${targets[@]}"; do [[ "$t" == "$1" || "$t" == all ]] && return 0; done; return 1; }

apt_install docker.io debootstrap containerd ca-certificates
# Debian's client matches Debian's daemon (a newer client elsewhere in PATH may not).
DOCKER_BIN=/usr/bin/docker
[[ -x "$DOCKER_BIN" ]] || DOCKER_BIN="$(command -v docker)"
docker_() { DOCKER_BUILDKIT=1 "$DOCKER_BIN" -H "unix://$DOCKER_SOCK" "$@"; }

# --- private dockerd ------------------------------------------------------------
STARTED_DOCKERD=""
stop_dockerd() {
  [[ -n "$STARTED_DOCKERD" ]] || return 0
  kill "$STARTED_DOCKERD" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$STARTED_DOCKERD" 2>/dev/null || break; sleep 0.1; done
  # The cgroups its builds made (rmdir only removes them when empty, i.e.
  # when no other dockerd uses them).
  rmdir /sys/fs/cgroup/*/docker/buildkit /sys/fs/cgroup/*/docker 2>/dev/null || true
  log "stopped dockerd (pid $STARTED_DOCKERD)"
}
trap stop_dockerd EXIT
if ! docker_ version >/dev/null 2>&1; then
  mkdir -p "$DOCKER_ROOT" "$DOCKER_RUN"
  # No iptables or bridge: builds use the host network, nothing runs here.
  setsid dockerd --data-root "$DOCKER_ROOT" --exec-root "$DOCKER_RUN/exec" \
    --pidfile "$DOCKER_RUN/dockerd.pid" -H "unix://$DOCKER_SOCK" \
    --iptables=false --ip-masq=false --bridge=none \
    >>"$IMG_LOGS/dockerd.log" 2>&1 </dev/null &
  STARTED_DOCKERD=$!
  for _ in $(seq 60); do docker_ version >/dev/null 2>&1 && break; sleep 1; done
  docker_ version >/dev/null 2>&1 || fail "dockerd did not start" "$IMG_LOGS/dockerd.log"
  log "started dockerd (pid $STARTED_DOCKERD, data root $DOCKER_ROOT)"
fi

# --- base image -------------------------------------------------------------------
build_base() {
  if docker_ image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "$BASE_IMAGE present"
    return
  fi
  local tarball="$CACHE_DIR/base/bookworm-minbase.tar"
  if [[ ! -f "$tarball" ]]; then
    local t=$SECONDS rootfs="$CACHE_DIR/base/rootfs.tmp"
    log "debootstrap bookworm (log: $IMG_LOGS/debootstrap.log)"
    rm -rf "$rootfs"; mkdir -p "$rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
      bookworm "$rootfs" "$DEBIAN_MIRROR" >>"$IMG_LOGS/debootstrap.log" 2>&1 ||
      fail "debootstrap failed" "$IMG_LOGS/debootstrap.log"
    cat >"$rootfs/etc/apt/sources.list" <<EOF
deb $DEBIAN_MIRROR bookworm main
deb $DEBIAN_MIRROR bookworm-updates main
deb ${DEBIAN_MIRROR%/debian}/debian-security bookworm-security main
EOF
    # Builds inside the image must trust what the host trusts (e.g. an egress
    # proxy's CA); a clean machine has nothing extra here.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
      cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
      chroot "$rootfs" update-ca-certificates >>"$IMG_LOGS/debootstrap.log" 2>&1
    fi
    chroot "$rootfs" apt-get clean
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/tmp/* "$rootfs"/var/log/*.log
    tar -C "$rootfs" --numeric-owner -cf "$tarball.new" .
    mv "$tarball.new" "$tarball"
    rm -rf "$rootfs"
    log "base rootfs built in $((SECONDS - t))s"
  fi
  docker_ import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["/bin/bash"]' \
    "$tarball" "$BASE_IMAGE" >/dev/null || fail "docker import of $tarball failed"
  log "imported $BASE_IMAGE"
}

# build_image IMAGE DOCKERFILE
build_image() {
  local image="$1" dockerfile="$2" t=$SECONDS logf="$IMG_LOGS/build-${1//[\/:]/_}.log"
  log "building $image from $dockerfile (log: $logf)"
  docker_ build --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    -f "$ROOT/$dockerfile" -t "$image" "$ROOT" >"$logf" 2>&1 ||
    fail "building $image failed" "$logf"
  log "built $image in $((SECONDS - t))s"
}

# build_storage: the chart's embedded S3 server, an empty image around the static binary that
# build.sh makes from the Go module proxy (no Go image can be pulled here).
build_storage() {
  local t=$SECONDS logf="$IMG_LOGS/build-${STORAGE_IMAGE//[\/:]/_}.log" ctx bin_dir
  "$HERE/build.sh" s3server
  bin_dir="$("$HERE/build.sh" --print-bin-dir)"
  ctx="$(mktemp -d)"
  cp "$bin_dir/reelkube-s3server" "$ROOT/tests/s3server/Dockerfile" "$ctx/"
  log "building $STORAGE_IMAGE (log: $logf)"
  if ! docker_ build -t "$STORAGE_IMAGE" "$ctx" >"$logf" 2>&1; then
    rm -rf "$ctx"
    fail "building $STORAGE_IMAGE failed" "$logf"
  fi
  rm -rf "$ctx"
  log "built $STORAGE_IMAGE in $((SECONDS - t))s"
}

# build_kueue: Kueue's manager as an image, the same way as the storage image: an empty image
# around the static binary build.sh makes from the Go module proxy (Kueue's own image cannot be
# pulled here). Kueue's chart runs it as /manager, as a non-root user, on a read-only root.
build_kueue() {
  local t=$SECONDS logf="$IMG_LOGS/build-${KUEUE_IMAGE//[\/:]/_}.log" ctx bin_dir
  "$HERE/build.sh" kueue
  bin_dir="$("$HERE/build.sh" --print-bin-dir)"
  ctx="$(mktemp -d)"
  cp "$bin_dir/kueue" "$ctx/manager"
  printf '%s\n' 'FROM scratch' 'COPY manager /manager' 'USER 65532:65532' \
    'ENTRYPOINT ["/manager"]' >"$ctx/Dockerfile"
  log "building $KUEUE_IMAGE (log: $logf)"
  if ! docker_ build -t "$KUEUE_IMAGE" "$ctx" >"$logf" 2>&1; then
    rm -rf "$ctx"
    fail "building $KUEUE_IMAGE failed" "$logf"
  fi
  rm -rf "$ctx"
  log "built $KUEUE_IMAGE in $((SECONDS - t))s"
}

# load IMAGE: copy the image into the cluster's containerd unless it has it.
load() {
  local image="$1" id listing tag_digest config_digest
  if [[ ! -S "$CTRD_SOCK" ]] || ! ctr -a "$CTRD_SOCK" version >/dev/null 2>&1; then
    log "cluster containerd not running; not loading $image (run make cluster-up, then this again)"
    return
  fi
  id="$(docker_ image inspect -f '{{.Id}}' "$image")"
  # containerd keeps its images across cluster restarts (lib.sh CTRD_ROOT). The tag is current
  # when the manifest it names has docker's image ID as its config digest. (The CRI plugin's
  # second name for an image, its ID, is not there for every imported image: the renderer and
  # operator were loaded again on every run, 50 s, though unchanged.)
  listing="$(ctr -a "$CTRD_SOCK" -n k8s.io images ls)"
  tag_digest="$(awk -v r="docker.io/$image" '$1 == r {print $3}' <<<"$listing")"
  config_digest=""
  if [[ -n "$tag_digest" ]]; then
    config_digest="$(ctr -a "$CTRD_SOCK" -n k8s.io content get "$tag_digest" 2>/dev/null | tr -d ' \n\t' |
      grep -o '"config":{[^}]*}' | grep -o 'sha256:[0-9a-f]\{64\}' | head -n 1 || true)"
  fi
  if [[ -n "$config_digest" && "$config_digest" == "$id" ]]; then
    log "$image already in the cluster"
    return
  fi
  local t=$SECONDS
  docker_ save "$image" | ctr -a "$CTRD_SOCK" -n k8s.io images import - >/dev/null ||
    fail "loading $image into containerd failed"
  log "loaded $image into the cluster in $((SECONDS - t))s"
}

build_base
want base && load "$BASE_IMAGE"
if want renderer; then build_image "$RENDERER_IMAGE" Dockerfile.renderer; load "$RENDERER_IMAGE"; fi
if want operator; then build_image "$OPERATOR_IMAGE" Dockerfile.operator; load "$OPERATOR_IMAGE"; fi
if want storage; then build_storage; load "$STORAGE_IMAGE"; fi
# Only when named: the optional Kueue test needs it, `all` does not.
if [[ " ${targets[*]} " == *" kueue "* ]]; then build_kueue; load "$KUEUE_IMAGE"; fi
log "done in $((SECONDS - T0))s"
