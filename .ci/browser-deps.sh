#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/browser), installed only when missing.
# Playwright (Python, from requirements-dev.txt) drives /usr/bin/chromium: no browser download.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    echo "browser-deps: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) already installed"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core
/usr/bin/chromium --version
