#!/usr/bin/env bash
# Run `flower-edge predict` in an emulated 64-bit Raspberry Pi OS (arm64 Debian
# bookworm, Python 3.11) and check its top-1 equals this machine's for every image.
#
#   sudo scripts/check-aarch64.sh --images DIR BUNDLE [BUNDLE...]
#   e.g. sudo scripts/check-aarch64.sh --images ../shared/data/flowers5 \
#            artifacts/mnv2/export/fp32 artifacts/mnv2/export/int8
#
# Needs root (debootstrap, chroot, mounts), a Debian/Ubuntu host and access to the
# Debian mirror and PyPI. The arm64 root is built once into .cache/aarch64-root
# (override with AARCH64_ROOT) and reused. `--limit N` caps images per run (default
# 60, spread over the folder): emulated inference is ~1 s per MobileNetV2 invoke.
# Host side uses `${PYTHON:-python3} -m flower_edge.cli.main` (flower-edge installed).
set -euo pipefail

cd "$(dirname "$0")/.."
REPO=$(pwd)
ROOTFS=${AARCH64_ROOT:-$REPO/.cache/aarch64-root}
PYTHON=${PYTHON:-python3}
LIMIT=60
IMAGES=""
BUNDLES=()
while [ $# -gt 0 ]; do
  case "$1" in
    --images) IMAGES=$2; shift 2 ;;
    --limit) LIMIT=$2; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) BUNDLES+=("$1"); shift ;;
  esac
done
die() { echo "error: $*" >&2; exit 1; }
[ -n "$IMAGES" ] && [ -d "$IMAGES" ] || die "pass --images DIR (a folder of photos)"
[ ${#BUNDLES[@]} -gt 0 ] || die "pass at least one bundle folder (e.g. export/fp32 export/int8)"
for b in "${BUNDLES[@]}"; do [ -f "$b/manifest.json" ] || die "$b is not a bundle (no manifest.json)"; done
[ "$(id -u)" = 0 ] || die "run as root (debootstrap and chroot need it): sudo $0 ..."
START=$(date +%s)
step() { echo "[$(( $(date +%s) - START ))s] $*" >&2; }

# 1. Host tools, from Debian packages.
if ! command -v debootstrap >/dev/null || ! command -v qemu-aarch64-static >/dev/null \
   || ! command -v update-binfmts >/dev/null; then
  step "installing debootstrap qemu-user-static binfmt-support"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    debootstrap qemu-user-static binfmt-support >/dev/null
fi
# 2. binfmt_misc is off by default in containers: mount it and enable aarch64.
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
update-binfmts --enable qemu-aarch64 2>/dev/null || true
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || die "could not enable the qemu-aarch64 binfmt handler"

# 3. The arm64 root, built once (in a temp folder, renamed when complete).
MIRROR=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -m1 '/debian$' || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
if [ ! -f "$ROOTFS/.complete" ]; then
  step "debootstrap arm64 bookworm from $MIRROR (a few minutes)"
  for m in proc sys; do umount "$ROOTFS.tmp/$m" 2>/dev/null || true; done  # an interrupted run
  rm -rf --one-file-system "$ROOTFS.tmp"; mkdir -p "$(dirname "$ROOTFS")"
  debootstrap --arch=arm64 --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates bookworm "$ROOTFS.tmp" "$MIRROR" >/dev/null
  touch "$ROOTFS.tmp/.complete"; rm -rf --one-file-system "$ROOTFS"; mv "$ROOTFS.tmp" "$ROOTFS"
fi
cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
cleanup() { umount "$ROOTFS/proc" 2>/dev/null || true; umount "$ROOTFS/sys" 2>/dev/null || true; }
trap cleanup EXIT
mountpoint -q "$ROOTFS/proc" || mount -t proc proc "$ROOTFS/proc"
mountpoint -q "$ROOTFS/sys" || mount -t sysfs sys "$ROOTFS/sys"
in_root() { chroot "$ROOTFS" /usr/bin/env -i HOME=/root PATH=/opt/venv/bin:/usr/bin:/bin LANG=C.UTF-8 "$@"; }
step "emulated: $(in_root uname -m), $(in_root python3 --version)"

# 4. This checkout (its files only) + the pi extra, from the package registry.
rm -rf --one-file-system "$ROOTFS/opt/flower-edge" "$ROOTFS/work"; mkdir -p "$ROOTFS/opt/flower-edge" "$ROOTFS/work/in"
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$ROOTFS/opt/flower-edge"
step "pip install '.[pi]' inside the arm64 root"
[ -x "$ROOTFS/opt/venv/bin/python" ] || in_root python3 -m venv /opt/venv
in_root pip install -q --disable-pip-version-check --no-compile "/opt/flower-edge[pi]"
in_root python -c "import importlib.util as u; assert u.find_spec('tensorflow') is None, 'TF got installed'"
step "arm64 venv: $(in_root pip list --format=freeze 2>/dev/null | grep -E -i '^(ai-edge-litert|numpy|pillow)=' | tr '\n' ' ')"

# 5. The same images on both sides: every k-th file so all classes are covered.
mapfile -t ALL < <(find "$IMAGES" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | sort)
[ ${#ALL[@]} -gt 0 ] || die "no images in $IMAGES"
STRIDE=$(( (${#ALL[@]} + LIMIT - 1) / LIMIT )); n=0
for ((i = 0; i < ${#ALL[@]}; i += STRIDE)); do
  cp "${ALL[$i]}" "$ROOTFS/work/in/$(printf '%04d' $n)_$(basename "${ALL[$i]}")"; n=$((n + 1))
done
OUT=$(mktemp -d); FAIL=0
for b in "${BUNDLES[@]}"; do
  name=$(basename "$b"); cp -r "$b" "$ROOTFS/work/$name"
  step "$name: x86_64 predict on $n images"
  (cd "$ROOTFS/work" && "$PYTHON" -m flower_edge.cli.main predict in --model "$name" --json --top-k 1) \
    > "$OUT/$name.x86.json" 2>/dev/null
  step "$name: aarch64 predict (emulated)"
  (cd "$ROOTFS/work" && in_root sh -c "cd /work && flower-edge predict in --model $name --json --top-k 1") \
    > "$OUT/$name.arm.json" 2>"$OUT/$name.arm.err" || { cat "$OUT/$name.arm.err" >&2; FAIL=1; continue; }
  "$PYTHON" - "$OUT/$name.x86.json" "$OUT/$name.arm.json" "$name" <<'PY' || FAIL=1
import json, sys
x86, arm = (json.load(open(p)) for p in sys.argv[1:3])
top = lambda d: {r["path"]: (r["label"], r["probability"]) for r in d["predictions"]}
a, b = top(x86), top(arm)
same = sum(a[k][0] == b.get(k, ("?",))[0] for k in a)
diff = max(abs(a[k][1] - b[k][1]) for k in a if k in b)
print(f"{sys.argv[3]}: top-1 equal on {same}/{len(a)} images (arm64 {arm['interpreter']}), "
      f"max |p_x86 - p_arm64| = {diff:.2g}")
sys.exit(0 if same == len(a) == len(b) and a else 1)
PY
done
rm -rf "$OUT"
step "done: $([ $FAIL = 0 ] && echo PASS || echo FAIL)"
exit $FAIL
