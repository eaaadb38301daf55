#!/usr/bin/env bash
# Runs the dashboard's and playground's browser tests: playwright-core (from
# npm, pinned by server/dashboard/browsertest/package-lock.json) drives
# Debian's Chromium against a real apiws built from this tree, on a free
# port with a temporary SQLite database. Installs Chromium with apt-get when
# /usr/bin/chromium is missing. Screenshots go to
# server/dashboard/browsertest/screenshots/ (or $BROWSERTEST_SCREENSHOTS).
# Usage: ./scripts/browser-test.sh [test name...]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  echo "browser-test.sh: installing Chromium" >&2
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
fi

cd server/dashboard/browsertest
# npm ci installs exactly the lockfile's versions, checking their hashes.
npm ci --no-audit --no-fund --loglevel=error
node run.mjs "$@"
