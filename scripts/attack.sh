#!/usr/bin/env bash
# Security regression probes against a yibao binary: starts its own `yibao serve --demo` on a
# temporary database, runs every probe of scripts/attack.py and exits with its status.
# Usage: scripts/attack.sh [path-to-yibao-binary [--only 1,5] [--keep]]   (default target/debug/yibao)
#        scripts/attack.sh target/debug/yibao --url http://127.0.0.1:8080   (a server already running)
set -euo pipefail
bin="${1:-target/debug/yibao}"
shift || true
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
status=0
python3 "$here/attack.py" --yibao "$bin" "$@" || status=$?
exit "$status"
