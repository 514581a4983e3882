#!/usr/bin/env bash
# Known vulnerabilities in what Yishi ships: RustSec advisories for every
# crate in Cargo.lock (cargo deny, exceptions in deny.toml) and npm's
# advisories for the frontend's runtime packages, high and critical
# (audit-ci, exceptions in frontend/audit-ci.jsonc).
#
# Both databases live on the internet (GitHub, registry.npmjs.org's audit
# endpoint). With AUDIT_OPTIONAL=1 (as `make test` calls it) a database
# that cannot be reached is reported loudly as NOT CHECKED instead of
# failing the build; a reachable database with a finding always fails.
set -uo pipefail
cd "$(dirname "$0")/.."

optional=${AUDIT_OPTIONAL:-0}
status=0

unreachable() {
  if [ "$optional" = 1 ]; then
    echo "audit: NOT CHECKED: $1 (no network to it from this machine); run \`make audit\` where it is reachable" >&2
  else
    echo "audit: $1" >&2
    status=1
  fi
}

# RustSec: fetch the advisory database first, so that "cannot fetch" and
# "found a vulnerability" are told apart.
if cargo deny fetch db >/tmp/yishi-deny-fetch.log 2>&1; then
  cargo deny --offline check advisories || status=1
else
  unreachable "RustSec advisory database unreachable ($(grep -m1 -E 'fatal|error' /tmp/yishi-deny-fetch.log | tail -c 200))"
fi

# npm: the registry's bulk advisory endpoint; asked once by npm itself to
# tell an unreachable endpoint from a finding, then audit-ci applies the
# level and the allowlist.
if (cd frontend && npm audit --omit=dev --json >/tmp/yishi-npm-probe.json 2>/tmp/yishi-npm-probe.log) \
    || ! grep -qiE "audit endpoint returned an error|ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN" /tmp/yishi-npm-probe.log; then
  if (cd frontend && npx --no-install audit-ci --config audit-ci.jsonc); then
    echo "audit: npm runtime packages: no high or critical advisory"
  else
    status=1
  fi
else
  unreachable "npm audit endpoint unreachable ($(grep -iE 'endpoint|ENOTFOUND|ECONN|ETIMEDOUT|EAI_AGAIN|Method Not Allowed' /tmp/yishi-npm-probe.log | head -1))"
fi
exit $status
