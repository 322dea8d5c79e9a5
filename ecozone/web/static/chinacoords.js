/* WGS84 ⇄ GCJ-02 ⇄ BD-09 for the map page: a line-for-line port of geo/chinacoords.py.
 *
 * The data ecozone checks is WGS84. On a basemap drawn in GCJ-02 (AMap, Tencent) or
 * BD-09 the page shifts what it shows into the basemap's system, and what the user
 * draws back into WGS84, so nothing is offset. Python stays the reference; a browser
 * test compares this file with it to 1e-9°.
 */
(function () {
  "use strict";
  var A = 6378245.0, EE = 0.00669342162296594323, X_PI = Math.PI * 3000.0 / 180.0;
  var TOL = 1e-7, MAX_ITER = 30;

  function outOfChina(lon, lat) {
    return lon < 72.004 || lon > 137.8347 || lat < 0.8293 || lat > 55.8271;
  }

  function gcjDelta(lon, lat) {
    var x = lon - 105.0, y = lat - 35.0, pi = Math.PI;
    var sqrtAbsX = Math.sqrt(Math.abs(x));
    var common = (20.0 * Math.sin(6.0 * x * pi) + 20.0 * Math.sin(2.0 * x * pi)) * 2.0 / 3.0;
    var dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sqrtAbsX;
    dlat += common;
    dlat += (20.0 * Math.sin(y * pi) + 40.0 * Math.sin(y / 3.0 * pi)) * 2.0 / 3.0;
    dlat += (160.0 * Math.sin(y / 12.0 * pi) + 320.0 * Math.sin(y * pi / 30.0)) * 2.0 / 3.0;
    var dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sqrtAbsX;
    dlon += common;
    dlon += (20.0 * Math.sin(x * pi) + 40.0 * Math.sin(x / 3.0 * pi)) * 2.0 / 3.0;
    dlon += (150.0 * Math.sin(x / 12.0 * pi) + 300.0 * Math.sin(x / 30.0 * pi)) * 2.0 / 3.0;
    var radLat = lat / 180.0 * pi;
    var magic = 1.0 - EE * Math.pow(Math.sin(radLat), 2);
    var sqrtMagic = Math.sqrt(magic);
    dlat = (dlat * 180.0) / ((A * (1.0 - EE)) / (magic * sqrtMagic) * pi);
    dlon = (dlon * 180.0) / (A / sqrtMagic * Math.cos(radLat) * pi);
    return [dlon, dlat];
  }

  function gcjForward(lon, lat) {
    var d = gcjDelta(lon, lat);
    return [lon + d[0], lat + d[1]];
  }

  function bdForward(x, y) {
    var z = Math.sqrt(x * x + y * y) + 0.00002 * Math.sin(y * X_PI);
    var theta = Math.atan2(y, x) + 0.000003 * Math.cos(x * X_PI);
    return [z * Math.cos(theta) + 0.0065, z * Math.sin(theta) + 0.006];
  }

  function bdInverseFormula(bx, by) {
    var x = bx - 0.0065, y = by - 0.006;
    var z = Math.sqrt(x * x + y * y) - 0.00002 * Math.sin(y * X_PI);
    var theta = Math.atan2(y, x) - 0.000003 * Math.cos(x * X_PI);
    return [z * Math.cos(theta), z * Math.sin(theta)];
  }

  /* Solve forward(w) = t by fixed-point iteration, as geo.chinacoords._invert does. */
  function invert(forward, tLon, tLat, wLon, wLat) {
    for (var i = 0; i < MAX_ITER; i++) {
      var f = forward(wLon, wLat), rLon = f[0] - tLon, rLat = f[1] - tLat;
      wLon -= rLon; wLat -= rLat;
      if (Math.max(Math.abs(rLon), Math.abs(rLat)) < TOL) { break; }
    }
    return [wLon, wLat];
  }

  function wgs84ToGcj02(lon, lat) {
    return outOfChina(lon, lat) ? [lon, lat] : gcjForward(lon, lat);
  }

  function gcj02ToWgs84(lon, lat) {
    if (outOfChina(lon, lat)) { return [lon, lat]; }
    var d = gcjDelta(lon, lat);
    return invert(gcjForward, lon, lat, lon - d[0], lat - d[1]);
  }

  function gcj02ToBd09(lon, lat) {
    return outOfChina(lon, lat) ? [lon, lat] : bdForward(lon, lat);
  }

  function bd09ToGcj02(lon, lat) {
    if (outOfChina(lon, lat)) { return [lon, lat]; }
    var w = bdInverseFormula(lon, lat);
    return invert(bdForward, lon, lat, w[0], w[1]);
  }

  var TO = {
    wgs84: function (lon, lat) { return [lon, lat]; },
    gcj02: wgs84ToGcj02,
    bd09: function (lon, lat) { var g = wgs84ToGcj02(lon, lat); return gcj02ToBd09(g[0], g[1]); }
  };
  var FROM = {
    wgs84: function (lon, lat) { return [lon, lat]; },
    gcj02: gcj02ToWgs84,
    bd09: function (lon, lat) { var g = bd09ToGcj02(lon, lat); return gcj02ToWgs84(g[0], g[1]); }
  };

  /* Apply fn(lon, lat) to every position of a GeoJSON geometry/feature (a copy). */
  function mapCoords(obj, fn) {
    if (obj === null || obj === undefined) { return obj; }
    if (typeof obj[0] === "number") { var p = fn(obj[0], obj[1]); return obj.length > 2 ? [p[0], p[1], obj[2]] : p; }
    if (Array.isArray(obj)) { return obj.map(function (o) { return mapCoords(o, fn); }); }
    var out = {};
    Object.keys(obj).forEach(function (k) {
      out[k] = (k === "coordinates" || k === "geometry" || k === "geometries" || k === "features")
        ? mapCoords(obj[k], fn) : obj[k];
    });
    return out;
  }

  window.ECZ_COORDS = {
    wgs84ToGcj02: wgs84ToGcj02, gcj02ToWgs84: gcj02ToWgs84,
    gcj02ToBd09: gcj02ToBd09, bd09ToGcj02: bd09ToGcj02,
    /* WGS84 → the basemap's system, and back */
    toView: function (system, lon, lat) { return (TO[system] || TO.wgs84)(lon, lat); },
    fromView: function (system, lon, lat) { return (FROM[system] || FROM.wgs84)(lon, lat); },
    geojsonToView: function (system, g) { return system === "wgs84" ? g : mapCoords(g, TO[system]); },
    geojsonFromView: function (system, g) { return system === "wgs84" ? g : mapCoords(g, FROM[system]); }
  };
})();
