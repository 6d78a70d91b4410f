#!/usr/bin/env bash
# System packages the test suite drives as real clients: git-lfs (git clone/push with LFS), Debian's
# chromium (web pages, through Playwright) with CJK fonts, and redis-server (quota counters shared by
# API workers). Idempotent: installs only what is missing.
set -euo pipefail
missing=()
command -v git-lfs >/dev/null 2>&1 || missing+=(git-lfs)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
# CJK glyphs, so that Chromium draws Chinese pages (screenshots) instead of empty boxes.
[ -d /usr/share/fonts/opentype/noto ] || missing+=(fonts-noto-cjk)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "missing system packages: ${missing[*]} (install them with apt-get as root)" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
