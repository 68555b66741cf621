#!/usr/bin/env bash
# `npm test [-- <vitest args>]`: setup (idempotent), then type check, lint, format check, and vitest.
# With vitest args (e.g. a file filter) the static checks are skipped for a fast inner loop.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/node_modules/.bin:$PATH"
if [ $# -eq 0 ]; then
  echo "[test] tsc --noEmit" >&2 && tsc --noEmit
  echo "[test] eslint" >&2 && eslint --max-warnings 0 .
  echo "[test] prettier --check" >&2 && prettier --check --log-level warn .
fi
echo "[test] vitest" >&2
exec vitest run "$@"
