#!/usr/bin/env bash
# Fails when dist/ is not what frontend/ builds from its lock file (someone changed the
# source and forgot `npm run build`, or edited dist/ by hand). Needs Node 20+ and npm.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$(mktemp -d)"
trap 'rm -rf "$OUT"' EXIT

cd "$ROOT/frontend"
npm ci --no-audit --no-fund --loglevel=error
npx tsc --noEmit
npx vite build --outDir "$OUT/dist" --emptyOutDir --logLevel warn

if diff -r "$OUT/dist" "$ROOT/dist" >"$OUT/diff.txt"; then
    echo "check-dist: dist/ matches a fresh build of frontend/"
else
    cat "$OUT/diff.txt" | head -40
    echo "check-dist: dist/ is stale; run: cd frontend && npm ci && npm run build, then commit dist/" >&2
    exit 1
fi
