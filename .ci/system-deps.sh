#!/usr/bin/env sh
# System packages the UI browser tests need on a fresh Debian (bookworm) machine:
#   chromium        - driven by Playwright through executable_path=/usr/bin/chromium (no browser download)
#   fonts-noto-cjk  - CJK glyphs, so screenshots show Chinese text instead of boxes
# Idempotent: does nothing when /usr/bin/chromium already exists. ~570 MB installed.
set -eu

if [ -x /usr/bin/chromium ] && fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
    echo "system-deps: chromium and fonts-noto-cjk already installed"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y chromium fonts-noto-cjk
