#!/usr/bin/env bash
# Vendor the JavaScript/CSS that ecozone's interactive maps inline into their HTML,
# so that maps work on intranets without internet access (no CDN at runtime).
#
# Source: the npm registry via `npm pack` (tarballs are verified against the
# registry's integrity hash by npm). Re-run to refresh; bump the versions below,
# then run the map tests: .venv/bin/pytest tests/maps -q
#
#   leaflet      BSD-2-Clause  https://www.npmjs.com/package/leaflet
#   leaflet-draw MIT           https://www.npmjs.com/package/leaflet-draw
#                              (used later by the web app to draw sites)
set -euo pipefail

LEAFLET_VERSION=1.9.4
LEAFLET_DRAW_VERSION=1.0.4

here="$(cd "$(dirname "$0")/.." && pwd)"
static="$here/maps/static"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$work"
npm pack --silent "leaflet@${LEAFLET_VERSION}" >/dev/null
npm pack --silent "leaflet-draw@${LEAFLET_DRAW_VERSION}" >/dev/null

rm -rf "$static/leaflet" "$static/leaflet-draw"
mkdir -p "$static/leaflet/images" "$static/leaflet-draw/images"

mkdir leaflet && tar -xzf "leaflet-${LEAFLET_VERSION}.tgz" -C leaflet
cp leaflet/package/dist/leaflet.js leaflet/package/dist/leaflet.css "$static/leaflet/"
cp leaflet/package/dist/images/*.png "$static/leaflet/images/"
cp leaflet/package/LICENSE "$static/leaflet/LICENSE"

mkdir draw && tar -xzf "leaflet-draw-${LEAFLET_DRAW_VERSION}.tgz" -C draw
cp draw/package/dist/leaflet.draw.js draw/package/dist/leaflet.draw.css "$static/leaflet-draw/"
# only the sprites: the other images in the tarball duplicate leaflet's own
cp draw/package/dist/images/spritesheet* "$static/leaflet-draw/images/"
# The leaflet-draw npm tarball declares "license": "MIT" in package.json but ships no
# licence file; this is the text of MIT-LICENSE.md in github.com/Leaflet/Leaflet.draw.
cat > "$static/leaflet-draw/LICENSE" <<'LICENSE'
Leaflet.draw (https://github.com/Leaflet/Leaflet.draw), MIT-LICENSE.md:

Copyright 2012-2016 Jacob Toye and Leaflet

Permission is hereby granted, free of charge, to any person obtaining
a copy of this software and associated documentation files (the
"Software"), to deal in the Software without restriction, including
without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to
permit persons to whom the Software is furnished to do so, subject to
the following conditions:

The above copyright notice and this permission notice shall be
included in all copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND,
EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE
LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION
OF CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION
WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
LICENSE

# Record exactly what was vendored (version and sha256 of each file).
{
  echo "leaflet ${LEAFLET_VERSION} (npm pack leaflet@${LEAFLET_VERSION})"
  echo "leaflet-draw ${LEAFLET_DRAW_VERSION} (npm pack leaflet-draw@${LEAFLET_DRAW_VERSION})"
  echo
  (cd "$static" && find leaflet leaflet-draw -type f ! -name VERSIONS.txt | LC_ALL=C sort | xargs sha256sum)
} > "$static/VERSIONS.txt"
echo "vendored into $static:"
cat "$static/VERSIONS.txt"
