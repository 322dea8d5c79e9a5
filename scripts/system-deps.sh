#!/usr/bin/env bash
# Install the Debian packages ecozone's maps, reports and tests need, when missing.
# fonts-noto-cjk: Chinese glyphs in PNG/PDF maps and reports.
# chromium: PDF reports (headless printing) and the web app's browser tests
#           (Playwright drives /usr/bin/chromium; `playwright install` is never used).
# chromium-driver: the matching chromedriver, for tests of the web app driven by
#           WebDriver (Selenium) instead of Playwright; installed with the test set.
# postgresql-15, postgresql-15-postgis-3: the PostGIS layer store's tests start a
#           throw-away server on 127.0.0.1 (tests/postgis_server.py).
# Usage: system-deps.sh [demo|test]   (default test; the demo needs no database)
set -euo pipefail
purpose=${1:-test}
need=()
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
dpkg -s chromium >/dev/null 2>&1 || need+=(chromium)
if [ "$purpose" = test ]; then
  dpkg -s chromium-driver >/dev/null 2>&1 || need+=(chromium-driver)
  dpkg -s postgresql-15 >/dev/null 2>&1 || need+=(postgresql-15)
  dpkg -s postgresql-15-postgis-3 >/dev/null 2>&1 || need+=(postgresql-15-postgis-3)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
