#!/usr/bin/env bash
# Builds Yishi, serves it on a fresh SQLite database and runs the
# graphql-http audit against /graphql. Exit status: the audit's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build -q -p yishi --manifest-path "$root/Cargo.toml"
(cd "$here" && npm ci --no-audit --no-fund --silent)
dir="$(mktemp -d)"
port="${YISHI_AUDIT_PORT:-18089}"
DATABASE_URL="sqlite://$dir/yishi.db?mode=rwc" YISHI_DATA_DIR="$dir" \
  YISHI_BIND="127.0.0.1:$port" YISHI_DEMO_DATA=false YISHI_LOG=warn \
  "$target/debug/yishi" serve &
server=$!
trap 'kill "$server" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
node "$here/audit.mjs" "http://127.0.0.1:$port/graphql"
