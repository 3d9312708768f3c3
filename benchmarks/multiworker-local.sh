#!/usr/bin/env bash
# Start N flower-edge training workers on this machine (127.0.0.1), one TF_CONFIG each,
# MultiWorkerMirroredStrategy. Worker 0 is the chief: it alone writes the run folder OUT.
#
#   benchmarks/multiworker-local.sh N [train flags...]
#   benchmarks/multiworker-local.sh 2 --data artifacts/synth --backbone tiny_cnn --weights none \
#       --image-size 32 --epochs 3 --out artifacts/mw
#
# --strategy multiworker is added; --out is required (every worker names the same run:
# without it each would pick its own dated folder). Logs: OUT.worker-<i>.log beside the run. If a worker dies, the others are
# stopped and the script exits non-zero: run the same command again and training resumes
# from the last backup (Keras BackupAndRestore), completing every epoch.
# FLOWER_EDGE=<command> overrides the command that is started (default: flower-edge).
set -euo pipefail

if [[ $# -lt 1 || ! "$1" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 N [flower-edge train flags...]  (N = number of workers, 1 or more)" >&2
    exit 2
fi
n=$1
shift
out=
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --out) out=${args[i + 1]:-} ;;
    esac
done
out=${out%/}
if [[ -z "$out" ]]; then
    echo "error: pass --out RUN_DIR (every worker must train the same run)" >&2
    exit 2
fi
read -r -a cmd <<<"${FLOWER_EDGE:-flower-edge}"
python=$(command -v python3 || command -v python)

# Free ports: bind to port 0 and let the OS choose, then release them for the workers.
ports=$("$python" - "$n" <<'EOF'
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()
EOF
)
workers=$(printf '"127.0.0.1:%s",' $ports)
workers="[${workers%,}]"
mkdir -p "$(dirname "$out")"

pids=()
stop_all() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap 'stop_all; exit 130' INT TERM

for ((i = 0; i < n; i++)); do
    log="$out.worker-$i.log"
    TF_CONFIG="{\"cluster\": {\"worker\": $workers}, \"task\": {\"type\": \"worker\", \"index\": $i}}" \
        "${cmd[@]}" train --strategy multiworker "$@" >"$log" 2>&1 &
    pids+=($!)
    echo "worker $i: pid $!, TF_CONFIG port $(echo $ports | cut -d' ' -f$((i + 1))), log $log" >&2
done

# The job is as alive as its weakest worker: when one fails, stop the others (TensorFlow
# would otherwise wait on the lost peer) and report it, so the job can be restarted.
status=0
while :; do
    running=0
    for idx in "${!pids[@]}"; do
        pid=${pids[idx]}
        [[ -z "$pid" ]] && continue
        if kill -0 "$pid" 2>/dev/null; then
            running=1
            continue
        fi
        if ! wait "$pid"; then
            status=1
            echo "worker $idx failed (log: $out.worker-$idx.log); stopping the others" >&2
            stop_all
        fi
        pids[idx]=
    done
    [[ $running -eq 0 ]] && break
    sleep 0.5
done
if [[ $status -ne 0 ]]; then
    echo "the job stopped; run the same command again to resume from the last backup" >&2
    exit 1
fi
echo "done: $out (written by worker 0, the chief)" >&2
