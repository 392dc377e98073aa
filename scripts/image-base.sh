#!/usr/bin/env bash
# Builds a local stand-in for node:20-bookworm-slim when no container registry is reachable:
# Debian bookworm from the apt mirror (debootstrap --variant=minbase), this machine's Node.js 20
# binary and npm, laid out as the official image lays them out (node in /usr/local/bin, npm in
# /usr/local/lib/node_modules/npm, user `node` uid/gid 1000), imported into podman.
#
#   sudo scripts/image-base.sh            # builds localhost/realtime-gateway-base:bookworm-node20
#   scripts/image-base.sh --if-missing    # does nothing when that image holds this machine's node
#   scripts/image-base.sh --force         # rebuilds it anyway
#
# Environment: BASE_IMAGE (the tag), DEBIAN_MIRROR (default http://deb.debian.org/debian),
# NODE_BIN (default: the `node` on PATH; must be Node 20, dynamically linked against glibc <= 2.36),
# NPM_DIR (default: the npm package the `npm` on PATH runs from). Needs root (debootstrap, chroot)
# and podman. docs/image.md explains the choice.
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-localhost/realtime-gateway-base:bookworm-node20}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm
NODE_BIN=${NODE_BIN:-$(command -v node)}
NPM_DIR=${NPM_DIR:-$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")}
mode=${1:-build}

log() { echo "image-base: $*" >&2; }
die() { log "$*"; exit 1; }

node_version=$("$NODE_BIN" --version)   # v20.x.y
npm_version=$("$NODE_BIN" "$NPM_DIR/bin/npm-cli.js" --version 2>/dev/null || true)
case "$node_version" in v20.*) ;; *) die "NODE_BIN=$NODE_BIN is Node $node_version; the image is Node 20" ;; esac
[ -f "$NPM_DIR/bin/npm-cli.js" ] || die "no npm in NPM_DIR=$NPM_DIR"

# The label records the node it holds: --if-missing rebuilds when this machine's node changed.
current=$(podman image inspect --format '{{index .Labels "org.realtime-gateway.base.node"}}' "$BASE_IMAGE" 2>/dev/null || true)
case "$mode" in
  --if-missing)
    if [ "$current" = "$node_version" ]; then log "$BASE_IMAGE exists (node $current)"; exit 0; fi ;;
  --force|build) ;;
  *) die "usage: $0 [--if-missing|--force]" ;;
esac

[ "$(id -u)" = 0 ] || die "debootstrap and chroot need root"
command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"

started=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/var/tmp}/realtime-gateway-base.XXXXXX")
rootfs=$work/rootfs
cleanup() {
  # debootstrap may leave proc/sys mounted inside the tree when it fails half-way.
  for m in proc sys dev/pts dev; do mountpoint -q "$rootfs/$m" 2>/dev/null && umount -l "$rootfs/$m" || true; done
  rm -rf --one-file-system "$work"
}
trap cleanup EXIT

log "debootstrap --variant=minbase $SUITE from $DEBIAN_MIRROR"
debootstrap --variant=minbase "$SUITE" "$rootfs" "$DEBIAN_MIRROR" > "$work/debootstrap.log" 2>&1 \
  || { tail -n 30 "$work/debootstrap.log" >&2; die "debootstrap failed (log above)"; }
log "debootstrap done in $(( $(date +%s) - started )) s"

# Node where the official image has it; npm beside it.
install -D -m 0755 "$NODE_BIN" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$rootfs/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"

# The official image's user: node, uid/gid 1000, home /home/node (the chart runs as 1000).
chroot "$rootfs" groupadd --gid 1000 node
chroot "$rootfs" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

# The binary must run on bookworm's glibc: fail here rather than in the image build (with a clean
# environment: this machine's NODE_EXTRA_CA_CERTS and the like do not exist in the tree).
inroot() { chroot "$rootfs" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root "$@"; }
inroot /usr/local/bin/node -e 'process.stdout.write(process.version + "\n")' >/dev/null \
  || die "$NODE_BIN does not run in $SUITE (glibc or libstdc++ mismatch?)"
inroot /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/npm-cli.js --version >/dev/null \
  || die "npm from $NPM_DIR does not run in $SUITE"

# Slim it as the official slim image is: no apt lists or package cache, no docs or man pages.
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
  "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* \
  "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/root/.npm

log "importing into podman as $BASE_IMAGE"
# /dev, /proc and /sys are the runtime's to fill.
tar -C "$rootfs" --numeric-owner --one-file-system \
  --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf "$work/rootfs.tar" .
podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change "LABEL org.realtime-gateway.base.node=$node_version" \
  --change "LABEL org.realtime-gateway.base.npm=$npm_version" \
  --change "LABEL org.realtime-gateway.base.debian=$SUITE" \
  --change 'CMD ["node"]' \
  --message "debootstrap $SUITE minbase + node $node_version + npm $npm_version" \
  "$work/rootfs.tar" "$BASE_IMAGE" >/dev/null
log "$BASE_IMAGE built in $(( $(date +%s) - started )) s ($(podman image inspect --format '{{.Size}}' "$BASE_IMAGE") bytes)"
