#!/usr/bin/env bash
# Entrypoint of the machine image, run from HOME at every boot of an instance made from it.
# On the production templates it also fetches the team's helper scripts; locally the training code
# is uploaded over SFTP by the worker, so boot only prepares the folders training expects and
# leaves a trace that operators (and tests) can read.
set -euo pipefail
image="$(cat "$HOME/.machine-image" 2>/dev/null || echo unknown)"
mkdir -p "$HOME/runs" "$HOME/code"
printf '%s %s pid=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$image" "$$" >> "$HOME/.boot.log"
