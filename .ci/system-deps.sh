#!/usr/bin/env sh
# System packages the tests need on a fresh Debian (bookworm) machine:
#   chromium        - driven by Playwright through executable_path=/usr/bin/chromium (no browser download)
#   fonts-noto-cjk  - CJK glyphs, so screenshots show Chinese text instead of boxes
#   postgresql      - server binaries (/usr/lib/postgresql/*/bin) for the storage tests' throwaway server
# Idempotent: each package is checked, and only missing ones are installed (one apt-get call;
# apt-get update only when something is missing). ~570 MB for chromium and fonts, ~50 MB for postgresql.
set -eu

missing=""
[ -x /usr/bin/chromium ] || missing="$missing chromium"
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || missing="$missing fonts-noto-cjk"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"

if [ -z "$missing" ]; then
    echo "system-deps: chromium, fonts-noto-cjk and postgresql already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

echo "system-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
# shellcheck disable=SC2086  # word splitting of the package list is intended
$SUDO apt-get install -y $missing
