#!/usr/bin/env bash
# Install the Debian packages ecozone's maps, reports and tests need, when missing.
# fonts-noto-cjk: Chinese glyphs in PNG/PDF maps and reports.
# chromium: PDF reports (headless printing) and the web app's browser tests
#           (Playwright drives /usr/bin/chromium; `playwright install` is never used).
set -euo pipefail
need=()
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
dpkg -s chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
