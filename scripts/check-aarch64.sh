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
# Trust the host's local CAs too (a TLS-intercepting proxy), and point pip at the system store.
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  mkdir -p "$ROOTFS/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$ROOTFS/usr/local/share/ca-certificates/"
  chroot "$ROOTFS" /usr/sbin/update-ca-certificates >/dev/null 2>&1 || true
fi
# /proc and /sys are deliberately NOT mounted: with the host's (x86) /proc/cpuinfo
# visible, LiteRT's cpuinfo crashes the emulated interpreter (SIGSEGV in
# Interpreter()). Unmounted, it only prints "Error in cpuinfo" and runs correctly.
for m in proc sys; do mountpoint -q "$ROOTFS/$m" && umount "$ROOTFS/$m"; done
PASS_ENV=(); for v in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy PIP_INDEX_URL PIP_EXTRA_INDEX_URL; do
  [ -n "${!v:-}" ] && PASS_ENV+=("$v=${!v}"); done
in_root() { chroot "$ROOTFS" /usr/bin/env -i HOME=/root PATH=/opt/venv/bin:/usr/bin:/bin LANG=C.UTF-8 \
  PIP_CERT=/etc/ssl/certs/ca-certificates.crt "${PASS_ENV[@]}" "$@"; }
step "emulated: $(in_root uname -m), $(in_root python3 --version)"

# 4. This checkout (its files only) + the pi extra, from the package registry.
rm -rf --one-file-system "$ROOTFS/opt/flower-edge" "$ROOTFS/check"; mkdir -p "$ROOTFS/opt/flower-edge" "$ROOTFS/check/in"
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
  cp "${ALL[$i]}" "$ROOTFS/check/in/$(printf '%04d' $n)_$(basename "${ALL[$i]}")"; n=$((n + 1))
done
OUT=$(mktemp -d); FAIL=0; k=0
for b in "${BUNDLES[@]}"; do
  k=$((k + 1)); name="$k-$(basename "$b")"; cp -r "$b" "$ROOTFS/check/$name"
  step "$name: x86_64 predict on $n images"
  (cd "$ROOTFS/check" && "$PYTHON" -m flower_edge.cli.main predict in --model "$name" --json --top-k 2) \
    > "$OUT/$name.x86.json" 2>/dev/null
  step "$name: aarch64 predict (emulated)"
  (cd "$ROOTFS/check" && in_root sh -c "cd /check && flower-edge predict in --model $name --json --top-k 2") \
    > "$OUT/$name.arm.json" 2>"$OUT/$name.arm.err" || { cat "$OUT/$name.arm.err" >&2; FAIL=1; continue; }
  "$PYTHON" - "$OUT/$name.x86.json" "$OUT/$name.arm.json" "$name" "$b/manifest.json" <<'PY' || FAIL=1
# Top-1 must match; the one allowed exception is a tie at the model's own output
# resolution (x86's top two within one quantization step and arm64 picked the other).
import json, sys
x86, arm, manifest = (json.load(open(p)) for p in (sys.argv[1], sys.argv[2], sys.argv[4]))
step = float(manifest["output"].get("scale") or 0) + 1e-6
a = {r["path"]: r["top_k"] for r in x86["predictions"]}
b = {r["path"]: r["top_k"] for r in arm["predictions"]}
same = sum(a[k][0]["label"] == b[k][0]["label"] for k in a if k in b)
ties = sum(a[k][0]["label"] != b[k][0]["label"] and len(a[k]) > 1 and b[k][0]["label"] == a[k][1]["label"]
           and a[k][0]["probability"] - a[k][1]["probability"] <= step for k in a if k in b)
diff = max(abs(a[k][0]["probability"] - b[k][0]["probability"]) for k in a if k in b)
print(f"{sys.argv[3]}: top-1 equal on {same}/{len(a)} images, {ties} more are ties within one output "
      f"step ({step:.2g}); arm64 {arm['interpreter']}, max |p_x86 - p_arm64| of top-1 = {diff:.2g}")
sys.exit(0 if a and len(a) == len(b) and same + ties == len(a) else 1)
PY
done
rm -rf "$OUT"
step "done: $([ $FAIL = 0 ] && echo PASS || echo FAIL)"
exit $FAIL
