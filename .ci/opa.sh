#!/usr/bin/env bash
# Builds the pinned Open Policy Agent once (cached per version), then checks, format-checks and unit-tests
# guardrails/policies with coverage. Logs go to stderr; stdout is only the binary's path, so .ci/run can do
#   RECOURSE_OPA_BIN="$(bash .ci/opa.sh)"; export RECOURSE_OPA_BIN
# (two statements: `export X="$(...)"` would hide a failure from set -e).
set -euo pipefail
cd "$(dirname "$0")/.."

OPA_VERSION="${OPA_VERSION:-v1.22.2}"   # the one pin; tests/guardrails/test_opa.py reads it from here
OPA_COVERAGE_MIN="${OPA_COVERAGE_MIN:-100}"
POLICIES="${POLICIES:-guardrails/policies}"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/recourse/opa-${OPA_VERSION}"
OPA="$CACHE/opa"

say() { echo "opa.sh: $*" >&2; }

if [[ -x "$OPA" ]] && "$OPA" version 2>/dev/null | grep -qx "Version: ${OPA_VERSION#v}"; then
  say "using cached $OPA"
else
  command -v go >/dev/null || { say "go is needed to build OPA ${OPA_VERSION} and is not on PATH"; exit 1; }
  say "building github.com/open-policy-agent/opa@${OPA_VERSION} (once; cached in $CACHE)"
  mkdir -p "$CACHE"
  tmp="$(mktemp -d "$CACHE/build.XXXXXX")"
  GOBIN="$tmp" GOFLAGS="${GOFLAGS:-} -buildvcs=false" go install "github.com/open-policy-agent/opa@${OPA_VERSION}" >&2
  mv -f "$tmp/opa" "$OPA"   # atomic: a half-built binary is never taken for a cached one
  rmdir "$tmp"
fi
"$OPA" version | head -1 >&2

say "opa check --strict $POLICIES"
"$OPA" check --strict "$POLICIES" >&2

say "opa fmt --list $POLICIES"
unformatted="$("$OPA" fmt --list "$POLICIES")"
if [[ -n "$unformatted" ]]; then
  say "not formatted (run: $OPA fmt -w $POLICIES):"
  echo "$unformatted" >&2
  exit 1
fi

say "opa test $POLICIES"
"$OPA" test "$POLICIES" >&2
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
"$OPA" test "$POLICIES" --coverage --format=json >"$report"
python3 - "$report" "$OPA_COVERAGE_MIN" >&2 <<'PY'
import json, sys
report, minimum = json.load(open(sys.argv[1])), float(sys.argv[2])
print(f"opa test coverage: {report['coverage']:.1f}% (minimum {minimum:g}%)")
for name, f in sorted(report["files"].items()):
    if f.get("not_covered"):
        rows = sorted({r["start"]["row"] for r in f["not_covered"]})
        print(f"  {name}: {f.get('coverage', 0):.1f}%, lines not covered: {', '.join(map(str, rows))}")
sys.exit(0 if report["coverage"] >= minimum else 1)
PY

echo "$OPA"
