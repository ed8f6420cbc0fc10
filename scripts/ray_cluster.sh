#!/usr/bin/env bash
# A local Ray cluster for the tests and benchmarks: a head and one worker node on this machine,
# one CPU each, reached at 127.0.0.1:$CURATE_RAY_PORT (default 6390; 6379 is Redis's).
#   scripts/ray_cluster.sh up      start it (stops a cluster left by an earlier run first)
#   scripts/ray_cluster.sh down    stop it
# Ray listens on all interfaces and names nodes by the machine's IP, whatever --node-ip-address
# says (ray-project/ray#26293); curate connects through 127.0.0.1. Since others on the network
# could reach it, the cluster requires Ray's token (~/.ray/auth_token, made here once): only
# processes of this user, with RAY_AUTH_MODE=token, may run code on it.
set -euo pipefail
BIN="$(cd "$(dirname "$0")/.." && pwd)/.venv/bin"
PORT="${CURATE_RAY_PORT:-6390}"
export RAY_USAGE_STATS_ENABLED=0 RAY_DISABLE_DOCKER_CPU_WARNING=1 RAY_AUTH_MODE=token
# a small object store: the tests move little data, and CI machines are small
STORE=$((512 * 1024 * 1024))
case "${1:-}" in
  up)
    "$BIN/ray" stop --force > /dev/null 2>&1 || true
    "$BIN/ray" get-auth-token --generate > /dev/null && chmod 600 ~/.ray/auth_token
    "$BIN/ray" start --head --node-ip-address 127.0.0.1 --port "$PORT" --num-cpus 1 \
      --object-store-memory "$STORE" --include-dashboard false --disable-usage-stats > /dev/null
    "$BIN/ray" start --address "127.0.0.1:$PORT" --num-cpus 1 \
      --object-store-memory "$STORE" --disable-usage-stats > /dev/null
    # both nodes up before anyone runs on the cluster
    for _ in $(seq 30); do
      nodes=$("$BIN/python" -c "import ray; ray.init(address='127.0.0.1:$PORT', logging_level='ERROR'); print(len([n for n in ray.nodes() if n['Alive']]))" 2>/dev/null || echo 0)
      [ "$nodes" = 2 ] && { echo "Ray cluster up at 127.0.0.1:$PORT (head + 1 worker)"; exit 0; }
      sleep 1
    done
    echo "the Ray cluster did not come up with 2 nodes: see /tmp/ray/session_latest/logs" >&2
    exit 1 ;;
  down)
    "$BIN/ray" stop --force > /dev/null 2>&1 || true ;;
  *)
    echo "usage: $0 up|down" >&2; exit 2 ;;
esac
