#!/usr/bin/env bash
# Security regression probes against a yibao binary: starts its own `yibao serve --demo` on a
# temporary database, runs every probe of scripts/attack.py and exits with its status.
# Usage: scripts/attack.sh [path-to-yibao-binary [--only 1,5] [--keep]]   (default target/debug/yibao)
set -euo pipefail
bin="${1:-target/debug/yibao}"
shift || true
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
status=0
python3 "$here/attack.py" --yibao "$bin" "$@" || status=$?
exit "$status"
