#!/usr/bin/env bash
# Install the Debian packages ecozone's maps, reports and tests need, when missing.
# fonts-noto-cjk: Chinese glyphs in PNG/PDF maps and reports.
# chromium: PDF reports (headless printing) and the web app's browser tests
#           (Playwright drives /usr/bin/chromium; `playwright install` is never used).
# chromium-driver: the matching chromedriver, for tests of the web app driven by
#           WebDriver (Selenium) instead of Playwright; installed with the test set.
# postgresql-15, postgresql-15-postgis-3: the PostGIS layer store's tests start a
#           throw-away server on 127.0.0.1 (tests/postgis_server.py).
# poppler-utils: report tests read the PDF with pdffonts (no Type 3 fonts) and pdftotext
#           (Chinese text extractable), and render pages to PNG with pdftoppm.
# libreoffice-writer-nogui: report tests convert the DOCX to PDF headless to prove that
#           it opens and renders (the first page is kept as a test artefact).
# python3-qgis, qgis: QGIS 3.22 (Debian 12) for tests/qgis: the Processing plugin runs in a
#           headless QgsApplication and through qgis_process; styled GeoPackages, the .qgz
#           project and the File Geodatabase are opened in QGIS (about 1 min to install).
# gcc, libc6-dev (and python3-dev for a Debian Python without its headers): pip builds
#           ecozone's one C module (zoning/check/_segments.c, setup.py) when installing.
# Usage: system-deps.sh [build|demo|test]   (default test; build: the compiler alone;
#           the demo needs no database)
set -euo pipefail
purpose=${1:-test}
need=()
command -v cc >/dev/null 2>&1 || need+=(gcc libc6-dev)
include=$(${PYTHON:-python3} -c "import sysconfig; print(sysconfig.get_paths()['include'])")
[ -f "$include/Python.h" ] || need+=(python3-dev)
if [ "$purpose" != build ]; then
  dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need+=(fonts-noto-cjk)
  dpkg -s chromium >/dev/null 2>&1 || need+=(chromium)
fi
if [ "$purpose" = test ]; then
  dpkg -s chromium-driver >/dev/null 2>&1 || need+=(chromium-driver)
  dpkg -s postgresql-15 >/dev/null 2>&1 || need+=(postgresql-15)
  dpkg -s postgresql-15-postgis-3 >/dev/null 2>&1 || need+=(postgresql-15-postgis-3)
  dpkg -s poppler-utils >/dev/null 2>&1 || need+=(poppler-utils)
  dpkg -s libreoffice-writer-nogui >/dev/null 2>&1 || need+=(libreoffice-writer-nogui)
  dpkg -s python3-qgis >/dev/null 2>&1 || need+=(python3-qgis)
  dpkg -s qgis >/dev/null 2>&1 || need+=(qgis)
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing system packages: ${need[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
