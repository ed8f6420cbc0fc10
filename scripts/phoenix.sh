#!/usr/bin/env bash
# A local Phoenix server (Arize Phoenix, open source) for the tests of `curate pull`: on
# 127.0.0.1:$CURATE_PHOENIX_PORT (default 6016; Phoenix's own default, 6006, is left to a
# Phoenix the user runs), its gRPC collector on $CURATE_PHOENIX_GRPC_PORT (default 4327), SQLite
# in a temporary folder made here and removed by `down`. Phoenix lives in its own virtualenv,
# .tools/phoenix-VERSION (`make phoenix`): its dependencies are not curate's.
#   scripts/phoenix.sh up      start it (stops one left by an earlier run first)
#   scripts/phoenix.sh down    stop it and remove its data
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
VERSION="${PHOENIX_VERSION:-20.26.1}"
BIN="$ROOT/.tools/phoenix-$VERSION/bin"
PORT="${CURATE_PHOENIX_PORT:-6016}"
GRPC="${CURATE_PHOENIX_GRPC_PORT:-4327}"
STATE="$ROOT/.tools/phoenix-run"
stop() {
  if [ -f "$STATE/pid" ]; then
    kill "$(cat "$STATE/pid")" > /dev/null 2>&1 || true
    for _ in $(seq 20); do kill -0 "$(cat "$STATE/pid")" 2> /dev/null || break; sleep 0.5; done
  fi
  if [ -f "$STATE/dir" ]; then rm -rf "$(cat "$STATE/dir")"; fi
  rm -rf "$STATE"
}
case "${1:-}" in
  up)
    [ -x "$BIN/phoenix" ] || { echo "no Phoenix in $BIN: run \`make phoenix\`" >&2; exit 1; }
    stop
    mkdir -p "$STATE"
    DATA="$(mktemp -d -t curate-phoenix-XXXXXX)"
    echo "$DATA" > "$STATE/dir"
    PHOENIX_WORKING_DIR="$DATA" PHOENIX_HOST=127.0.0.1 PHOENIX_PORT="$PORT" \
      PHOENIX_GRPC_PORT="$GRPC" PHOENIX_TELEMETRY_ENABLED=false \
      nohup "$BIN/phoenix" serve > "$STATE/log" 2>&1 &
    echo $! > "$STATE/pid"
    for _ in $(seq 90); do
      if "$BIN/python" -c "import urllib.request as u; u.urlopen('http://127.0.0.1:$PORT/healthz', timeout=2)" 2> /dev/null; then
        echo "Phoenix $VERSION up at http://127.0.0.1:$PORT (data in $DATA)"; exit 0
      fi
      kill -0 "$(cat "$STATE/pid")" 2> /dev/null || break
      sleep 1
    done
    echo "Phoenix did not come up at 127.0.0.1:$PORT: see $STATE/log" >&2
    tail -20 "$STATE/log" >&2 || true
    exit 1 ;;
  down)
    stop ;;
  *)
    echo "usage: $0 up|down" >&2; exit 2 ;;
esac
