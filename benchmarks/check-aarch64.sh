#!/usr/bin/env bash
# Run flower-edge bundles in emulated 64-bit Raspberry Pi OS roots (arm64 Debian
# bookworm and trixie) with each Pi runtime, and compare every image's output
# with this machine's (x86_64) `flower-edge predict`.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: sudo benchmarks/check-aarch64.sh --images DIR [options] BUNDLE [BUNDLE...]

  e.g. sudo benchmarks/check-aarch64.sh --images ../shared/data/flowers5-eval --limit 200 \
           --out artifacts/aarch64-check artifacts/mnv2/export/{fp32,fp16,dynamic,int8}

Each BUNDLE (a folder with manifest.json, from `flower-edge quantize`) runs on the same
images on x86_64 and in every target, one at a time. A target is OS/RUNTIME:
  bookworm/ai-edge-litert   Debian 12, Python 3.11, the `pi` extra
  bookworm/tflite-runtime   Debian 12, Python 3.11, tflite-runtime==2.14.0 and numpy<2
  trixie/ai-edge-litert     Debian 13, Python 3.13, the `pi` extra (tflite-runtime has
                            no cp313 wheel)
  bookworm/mediapipe        Debian 12, Python 3.11, MediaPipe Tasks ImageClassifier fed
                            flower-edge's preprocessed image (needs TFLite metadata in
                            the bundle; $MEDIAPIPE_SPEC, default mediapipe==1.2.2)
Per bundle and target it records images, top-1 agreement with x86, ties (x86's top two
within one output quantization step and the target picked the other) and the largest
|p_x86 - p_arm64| over all classes and images. A target that does not install or run
keeps its rows, with the reason as status.

options:
  --images DIR     photos to classify (searched recursively)
  --limit N        images, spread evenly over the sorted folder (default 200)
  --out DIR        where table.md and table.json go (default artifacts/aarch64-check);
                   raw per-run JSON under DIR/raw/; the table so far is in DIR.partial/
                   while it runs
  --target T       OS/RUNTIME, repeatable (default: all four above)
  -h, --help       this text

Needs root (debootstrap, chroot, binfmt_misc), a Debian/Ubuntu host, the Debian mirror
and PyPI. Each OS root is built once into .cache/aarch64-<os> (override the folder with
AARCH64_CACHE) and reused; each runtime has its own venv in it. Host side uses
`${PYTHON:-python3} -m flower_edge.cli.main` (flower-edge installed) and `pip wheel`.
Emulated inference is slow (~1.3 s per MobileNetV2@224 fp32 invoke): use a small model.
Targets can also run as parallel invocations (one --target and --out each; they share
the roots); `python3 benchmarks/aarch64_table.py --merge OUT A/table.json B/table.json`
joins their tables.
Exit status: 0 when every row agrees on every image (ties allowed), 1 when one does
not or a target failed, 2 on a usage error.
EOF
}

REPO=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
MEDIAPIPE_SPEC=${MEDIAPIPE_SPEC:-mediapipe==1.2.2}
ALL_TARGETS=(bookworm/ai-edge-litert bookworm/tflite-runtime trixie/ai-edge-litert bookworm/mediapipe)
LIMIT=200; IMAGES=""; OUTDIR=artifacts/aarch64-check; BUNDLES=(); TARGETS=()
die() { echo "error: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --images) IMAGES=${2:-}; shift 2 ;;
    --limit) LIMIT=${2:-}; shift 2 ;;
    --out) OUTDIR=${2:-}; shift 2 ;;
    --target) TARGETS+=("${2:-}"); shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) BUNDLES+=("${1%/}"); shift ;;
  esac
done
# Paths are the caller's; from here on the script works in the checkout.
abs() { case "$1" in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac; }
case "$PYTHON" in */*) PYTHON=$(abs "$PYTHON") ;; esac
[ -z "$IMAGES" ] || IMAGES=$(abs "$IMAGES")
GIVEN=("${BUNDLES[@]}"); OUTDIR=$(abs "$OUTDIR"); for i in "${!BUNDLES[@]}"; do BUNDLES[$i]=$(abs "${BUNDLES[$i]}"); done
cd "$REPO"
CACHE=${AARCH64_CACHE:-$REPO/.cache}
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
for t in "${TARGETS[@]}"; do
  [[ " ${ALL_TARGETS[*]} " == *" $t "* ]] || die "unknown target '$t'; use one of: ${ALL_TARGETS[*]}"
done
[ -n "$IMAGES" ] && [ -d "$IMAGES" ] || die "pass --images DIR (a folder of photos)"
[[ "$LIMIT" =~ ^[1-9][0-9]*$ ]] || die "--limit takes a positive integer, got '$LIMIT'"
[ ${#BUNDLES[@]} -gt 0 ] || die "pass at least one bundle folder (e.g. export/fp32 export/int8)"
for b in "${BUNDLES[@]}"; do [ -f "$b/manifest.json" ] || die "$b is not a bundle (no manifest.json)"; done
[ "$(id -u)" = 0 ] || die "run as root (debootstrap and chroot need it): sudo $0 ..."
[ ! -e "$OUTDIR" ] || [ -f "$OUTDIR/table.json" ] || die "$OUTDIR exists and is not an earlier table; pass another --out"
"$PYTHON" -c "import flower_edge" 2>/dev/null || die "$PYTHON cannot import flower_edge; set PYTHON=path/to/venv/bin/python"
START=$(date +%s)
step() { echo "[$(( $(date +%s) - START ))s] $*" >&2; }

# 1. Host tools, from Debian packages; binfmt_misc is off by default in containers.
if ! command -v debootstrap >/dev/null || ! command -v qemu-aarch64-static >/dev/null \
   || ! command -v update-binfmts >/dev/null; then
  step "installing debootstrap qemu-user-static binfmt-support"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    debootstrap qemu-user-static binfmt-support >/dev/null
fi
mountpoint -q /proc/sys/fs/binfmt_misc || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
update-binfmts --enable qemu-aarch64 2>/dev/null || true
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || die "could not enable the qemu-aarch64 binfmt handler"
MIRROR=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -m1 '/debian$' || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
PASS_ENV=(); for v in HTTP_PROXY HTTPS_PROXY NO_PROXY http_proxy https_proxy no_proxy PIP_INDEX_URL PIP_EXTRA_INDEX_URL; do
  [ -n "${!v:-}" ] && PASS_ENV+=("$v=${!v}"); done

# 2. Work folder: this checkout as a wheel, the images, the bundles, and x86's answers.
WORK=$(mktemp -d); CLEAN=("$WORK"); trap 'rm -rf --one-file-system "${CLEAN[@]}"' EXIT
mkdir -p "$WORK/src" "$WORK/check/in" "$WORK/check/wheel" "$WORK/x86" "$WORK/raw"
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -xf - -C "$WORK/src"
step "building a wheel of this checkout"
wheel() { "$PYTHON" -m pip wheel -q --no-deps --disable-pip-version-check -w "$WORK/check/wheel" "$@" "$WORK/src" \
  >>"$WORK/wheel.log" 2>&1; }
wheel --no-build-isolation || wheel || die "could not build a wheel of this checkout with $PYTHON -m pip: $(tail -1 "$WORK/wheel.log")"
CHECK=/check.$$  # in each root; one folder per run, so runs can share a root
WHEEL=$CHECK/wheel/$(basename "$(ls "$WORK"/check/wheel/*.whl)")
cp "$REPO/benchmarks/aarch64_mediapipe.py" "$WORK/check/"
mapfile -t ALL < <(find "$IMAGES" -type f \( -iname '*.jpg' -o -iname '*.jpeg' -o -iname '*.png' \) | sort)
[ ${#ALL[@]} -gt 0 ] || die "no images in $IMAGES"
n=$(( LIMIT < ${#ALL[@]} ? LIMIT : ${#ALL[@]} ))
for ((i = 0; i < n; i++)); do  # evenly spread over the sorted list, so every class folder is covered
  f=${ALL[$(( i * ${#ALL[@]} / n ))]}; cp "$f" "$WORK/check/in/$(printf '%04d' "$i")_$(basename "$f")"
done
ROWS=$WORK/rows.tsv; : > "$ROWS"
NAMES=(); k=0
for b in "${BUNDLES[@]}"; do
  k=$((k + 1)); name=$(printf '%02d' $k)-$(basename "$b"); NAMES+=("$name"); cp -r "$b" "$WORK/check/$name"
  printf '%s\t%s\n' "$name" "${GIVEN[$((k - 1))]}" >> "$WORK/bundles.tsv"
  classes=$(grep -c . "$b/labels.txt")
  step "$name: x86_64 predict on $n images"
  (cd "$WORK/check" && "$PYTHON" -m flower_edge.cli.main predict "$name" in --json --top-k "$classes") \
    > "$WORK/x86/$name.json" 2>"$WORK/x86/$name.err" || die "x86 predict failed on $b: $(tail -1 "$WORK/x86/$name.err")"
done

# 3. One arm64 root per OS, built once (in a temp folder, renamed when complete).
ensure_root() {  # $1 = OS; sets ROOTFS
  ROOTFS=$CACHE/aarch64-$1
  if [ ! -f "$ROOTFS/.complete" ]; then
    step "debootstrap arm64 $1 from $MIRROR (a few minutes)"
    for m in proc sys; do umount "$ROOTFS.tmp/$m" 2>/dev/null || true; done  # an interrupted run
    rm -rf --one-file-system "$ROOTFS.tmp"; mkdir -p "$CACHE"
    debootstrap --arch=arm64 --variant=minbase \
      --include=python3,python3-venv,python3-pip,ca-certificates "$1" "$ROOTFS.tmp" "$MIRROR" >/dev/null
    touch "$ROOTFS.tmp/.complete"; rm -rf --one-file-system "$ROOTFS"; mv "$ROOTFS.tmp" "$ROOTFS"
  fi
  cp /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
  # Trust the host's local CAs too (a TLS-intercepting proxy); pip uses the system bundle.
  # Appended on the host side: update-ca-certificates takes minutes under emulation.
  local crt bundle=$ROOTFS/etc/ssl/certs/ca-certificates.crt
  for crt in /usr/local/share/ca-certificates/*.crt; do
    [ -f "$crt" ] || continue
    mkdir -p "$ROOTFS/usr/local/share/ca-certificates"; cp "$crt" "$ROOTFS$crt"
    grep -q -F -x "$(sed -n 2p "$crt")" "$bundle" || { cat "$crt"; echo; } >> "$bundle"
  done
  # /proc and /sys are deliberately NOT mounted: with the host's (x86) /proc/cpuinfo
  # visible, LiteRT's cpuinfo crashes the emulated interpreter (SIGSEGV in
  # Interpreter()). Unmounted, it only prints "Error in cpuinfo" and runs correctly.
  for m in proc sys; do if mountpoint -q "$ROOTFS/$m"; then umount "$ROOTFS/$m"; fi; done
  rm -rf --one-file-system "$ROOTFS$CHECK"; cp -r "$WORK/check" "$ROOTFS$CHECK"
  CLEAN+=("$ROOTFS$CHECK")
}
in_root() {  # $1 = venv; the rest is the command
  local venv=$1; shift
  # MediaPipe's tcmalloc aborts without /sys ("CHECK in NumCPUs"): it gets the host's /sys
  # in a mount namespace of its own, so the other targets sharing this root never see it.
  local sys=()
  [[ "$venv" != */venv-mediapipe ]] || sys=(unshare --mount --propagation private
    sh -c 'mount --bind /sys "$0/sys" && exec "$@"' "$ROOTFS")
  "${sys[@]}" chroot "$ROOTFS" /usr/bin/env -i HOME=/root PATH="$venv/bin:/usr/bin:/bin" LANG=C.UTF-8 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 "${PASS_ENV[@]}" "$@"
}
install_runtime() {  # $1 = runtime, $2 = venv: the wheel and the runtime's packages
  local pkgs
  case "$1" in
    ai-edge-litert) pkgs=("$WHEEL[pi]") ;;
    tflite-runtime) pkgs=("$WHEEL" "tflite-runtime==2.14.0" "numpy<2") ;;
    mediapipe) pkgs=("$WHEEL" "$MEDIAPIPE_SPEC") ;;
  esac
  # The OS's pip installs into the venv: ensurepip takes minutes under emulation.
  local pip=(python3 -m pip --python "$2/bin/python" install -q --no-compile)
  # mediapipe's aarch64 wheel (and its OpenCV) links X, GL and EGL libraries that a
  # minimal root (like Pi OS Lite) lacks: "ImportError: libxcb.so.1", "libEGL.so.1".
  if [ "$1" = mediapipe ] && [ ! -e "$ROOTFS/usr/share/doc/libegl1" ]; then
    in_root /usr sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends libxcb1 libgl1 libegl1 libgles2 libglib2.0-0' || return 1
  fi
  [ -x "$ROOTFS$2/bin/python" ] || in_root /usr python3 -m venv --without-pip "$2" || return 1
  in_root /usr "${pip[@]}" "${pkgs[@]}" || return 1
  # The same version as last time is "already satisfied": force this checkout's code in.
  in_root /usr "${pip[@]}" --no-deps --force-reinstall "$WHEEL" || return 1
  in_root "$2" python -c "import importlib.util as u; assert u.find_spec('tensorflow') is None, 'TF got installed'"
}

# The table so far goes to OUT.partial after every row (progress, and what an interrupted
# run leaves); the finished one is renamed to OUT.
table() {
  rm -rf --one-file-system "$OUTDIR.tmp"; mkdir -p "$OUTDIR.tmp"
  cp -r "$WORK/raw" "$OUTDIR.tmp/raw"; cp -r "$WORK/x86" "$OUTDIR.tmp/raw/x86"
  "$PYTHON" "$REPO/benchmarks/aarch64_table.py" "$WORK" "$OUTDIR.tmp" --seconds $(( $(date +%s) - START ))
}
partial() { table >/dev/null 2>&1 || true; rm -rf --one-file-system "$OUTDIR.partial"; mv "$OUTDIR.tmp" "$OUTDIR.partial"; }
mkdir -p "$(dirname "$OUTDIR")"
for t in "${TARGETS[@]}"; do
  os=${t%/*}; rt=${t#*/}; venv=/opt/venv-$rt
  ensure_root "$os"
  py=$(in_root /usr python3 --version | cut -d' ' -f2)
  step "$t: Python $py, installing into $venv"
  if ! install_runtime "$rt" "$venv" >"$WORK/raw/$os-$rt.install.log" 2>&1; then
    why=$(grep -E -m1 'ERROR|Error|error' "$WORK/raw/$os-$rt.install.log" || tail -1 "$WORK/raw/$os-$rt.install.log")
    step "$t: did not install: $why"
    for name in "${NAMES[@]}"; do printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$os" "$py" "$rt" \
      "install failed: $why" "" "" 0 >> "$ROWS"; done
    continue
  fi
  versions=$(in_root /usr python3 -m pip --python "$venv/bin/python" list --format=freeze 2>/dev/null \
    | grep -E -i '^(ai-edge-litert|tflite-runtime|mediapipe|numpy|pillow)=' | tr '\n' ' ')
  step "$t: $versions"
  for name in "${NAMES[@]}"; do
    raw=$WORK/raw/$os-$rt-$name; t0=$(date +%s)
    if [ "$rt" = mediapipe ]; then cmd="python $CHECK/aarch64_mediapipe.py $name in"
    else cmd="flower-edge predict $name in --json --top-k $(grep -c . "$WORK/check/$name/labels.txt")"; fi
    step "$t: $name"
    if in_root "$venv" sh -c "cd $CHECK && $cmd" > "$raw.json" 2> "$raw.err"; then status=ran
    else status="failed: $(grep -v -i cpuinfo "$raw.err" | tail -1)"; fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$os" "$py" "$rt" "$status" "$raw.json" \
      "$versions" $(( $(date +%s) - t0 )) >> "$ROWS"
    partial
  done
done

# 4. The table, written to a temp folder and renamed into place.
FAIL=0; table || FAIL=1
rm -rf --one-file-system "$OUTDIR" "$OUTDIR.partial"; mv "$OUTDIR.tmp" "$OUTDIR"
cat "$OUTDIR/table.md"
step "done: $([ $FAIL = 0 ] && echo PASS || echo FAIL), table in $OUTDIR/table.md and table.json"
exit $FAIL
