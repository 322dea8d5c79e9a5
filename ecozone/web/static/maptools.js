/* Map tools for planners: the basemap (or a reference map), Gauss-Krüger coordinates
 * under the cursor, a measure tool, and Leaflet.draw in Chinese.
 *
 * Projection: CGCS2000 3° Gauss-Krüger (GRS80, k0 = 1, false easting 500 000 m, the
 * zone of the cursor), Krüger's n-series to 6th order (Karney 2011): millimetre
 * accurate within a zone; a browser test compares it with pyproj. Measured lengths
 * and areas are on the ellipsoid: each segment's plane length divided by the zone's
 * mean scale factor along it, the plane area by the square of the scale at the
 * vertices' centre (geo/scale.py's formula; the plane alone is up to 0.03 % long at
 * a zone's edge, areas 0.06 %).
 */
(function () {
  "use strict";
  var a = 6378137.0, f = 1 / 298.257222101, n = f / (2 - f);
  var n2 = n * n, n3 = n2 * n, n4 = n3 * n, n5 = n4 * n, n6 = n5 * n;
  var A = a / (1 + n) * (1 + n2 / 4 + n4 / 64 + n6 / 256);
  var alpha = [
    n / 2 - 2 * n2 / 3 + 5 * n3 / 16 + 41 * n4 / 180 - 127 * n5 / 288 + 7891 * n6 / 37800,
    13 * n2 / 48 - 3 * n3 / 5 + 557 * n4 / 1440 + 281 * n5 / 630 - 1983433 * n6 / 1935360,
    61 * n3 / 240 - 103 * n4 / 140 + 15061 * n5 / 26880 + 167603 * n6 / 181440,
    49561 * n4 / 161280 - 179 * n5 / 168 + 6601661 * n6 / 7257600,
    34729 * n5 / 80640 - 3418889 * n6 / 1995840,
    212378941 * n6 / 319334400
  ];
  var e = 2 * Math.sqrt(n) / (1 + n);

  function atanh(x) { return 0.5 * Math.log((1 + x) / (1 - x)); }

  /* The zone's mean scale factor along a plane segment (k0 = 1; geo.scale's formula):
     u = easting offset / √(ρν), the mean of u² along the segment, k = cosh(√mean). */
  var e2 = f * (2 - f);
  function meanScale(x0, y0, x1, y1) {
    var s = Math.sin((y0 + y1) / 2 / 6367449.0);
    var inv = (1 - e2 * s * s) / (a * Math.sqrt(1 - e2));
    var u0 = (x0 - 500000) * inv, u1 = (x1 - 500000) * inv;
    return Math.cosh(Math.sqrt((u0 * u0 + u0 * u1 + u1 * u1) / 3));
  }

  /* WGS84/CGCS2000 lon/lat → GK easting/northing in a 3° zone (default: the point's). */
  function gk(lon, lat, zone) {
    zone = zone || Math.round(lon / 3);
    var dl = (lon - 3 * zone) * Math.PI / 180, phi = lat * Math.PI / 180;
    var s = Math.sin(phi);
    var t = Math.sinh(atanh(s) - e * atanh(e * s));
    var xi0 = Math.atan2(t, Math.cos(dl)), eta0 = atanh(Math.sin(dl) / Math.sqrt(1 + t * t));
    var xi = xi0, eta = eta0;
    for (var j = 1; j <= 6; j++) {
      xi += alpha[j - 1] * Math.sin(2 * j * xi0) * Math.cosh(2 * j * eta0);
      eta += alpha[j - 1] * Math.cos(2 * j * xi0) * Math.sinh(2 * j * eta0);
    }
    return {zone: zone, epsg: 4534 + (zone - 25), x: 500000 + A * eta, y: A * xi};
  }

  /* Length (m) and area (m², closed rings) on the ellipsoid of lon/lat points, measured
     in one GK zone (the first point's) with its scale factor taken out. */
  function measure(points, closed) {
    if (!points.length) { return {length: 0, area: 0}; }
    var zone = Math.round(points[0][0] / 3);
    var xy = points.map(function (p) { var g = gk(p[0], p[1], zone); return [g.x, g.y]; });
    function seg(p, q) { return Math.hypot(q[0] - p[0], q[1] - p[1]) / meanScale(p[0], p[1], q[0], q[1]); }
    var length = 0, area = 0;
    for (var i = 1; i < xy.length; i++) { length += seg(xy[i - 1], xy[i]); }
    if (closed && xy.length > 2) {
      length += seg(xy[xy.length - 1], xy[0]);
      var cx = 0, cy = 0;
      for (var k = 0; k < xy.length; k++) {
        var p = xy[k], q = xy[(k + 1) % xy.length];
        area += p[0] * q[1] - q[0] * p[1];
        cx += p[0] / xy.length; cy += p[1] / xy.length;
      }
      var kc = meanScale(cx, cy, cx, cy);  // a conformal plane: areas scale by k²
      area = Math.abs(area) / 2 / (kc * kc);
    }
    return {length: length, area: area};
  }

  /* Area (m²) of a GeoJSON (Multi)Polygon in lon/lat, holes subtracted. */
  function geojsonArea(g) {
    if (!g) { return 0; }
    var polys = g.type === "Polygon" ? [g.coordinates] : g.type === "MultiPolygon" ? g.coordinates : [];
    var total = 0;
    polys.forEach(function (rings) {
      rings.forEach(function (ring, i) { var m = measure(ring.slice(0, -1), true).area; total += i ? -m : m; });
    });
    return total;
  }

  var DRAW_ZH = {
    draw: {
      toolbar: {
        actions: {title: "取消绘制", text: "取消"}, finish: {title: "完成绘制", text: "完成"},
        undo: {title: "删除最后一个点", text: "删除最后一个点"},
        buttons: {polyline: "绘制线", polygon: "绘制面", rectangle: "绘制矩形", circle: "绘制圆",
          marker: "标注点", circlemarker: "标注点"}
      },
      handlers: {
        circle: {tooltip: {start: "按住并拖动以绘制圆。"}, radius: "半径"},
        circlemarker: {tooltip: {start: "单击地图放置点。"}},
        marker: {tooltip: {start: "单击地图放置点。"}},
        polygon: {tooltip: {start: "单击开始绘制面。", cont: "单击继续绘制。", end: "单击第一个点闭合此面。"}},
        polyline: {error: "<strong>错误：</strong>边不能相交！",
          tooltip: {start: "单击开始绘制线。", cont: "单击继续绘制。", end: "单击最后一个点结束。"}},
        rectangle: {tooltip: {start: "按住并拖动以绘制矩形。"}},
        simpleshape: {tooltip: {end: "松开鼠标完成绘制。"}}
      }
    },
    edit: {
      toolbar: {
        actions: {save: {title: "保存修改", text: "保存"}, cancel: {title: "取消编辑，放弃修改", text: "取消"},
          clearAll: {title: "清除全部", text: "全部清除"}},
        buttons: {edit: "编辑", editDisabled: "没有可编辑的图形", remove: "删除", removeDisabled: "没有可删除的图形"}
      },
      handlers: {
        edit: {tooltip: {text: "拖动节点编辑图形。", subtext: "单击取消撤销修改。"}},
        remove: {tooltip: {text: "单击要删除的图形。"}}
      }
    }
  };

  function fmtLength(m, zh) { return m >= 1000 ? (m / 1000).toFixed(3) + (zh ? " 千米" : " km") : m.toFixed(1) + (zh ? " 米" : " m"); }
  function fmtArea(m2, zh) {
    return m2 >= 1e6 ? (m2 / 1e6).toFixed(4) + (zh ? " 平方千米" : " km²") : m2.toFixed(1) + (zh ? " 平方米" : " m²");
  }

  /* Basemap tiles, or a light reference map drawn from the store (class on the container). */
  function addBasemap(map, base) {
    base = base || {kind: "none", system: "wgs84"};
    if (base.kind === "none" || !base.url) {
      map.getContainer().classList.add("reference-map");
      return null;
    }
    var opts = {attribution: base.attribution || "", maxZoom: base.max_zoom || 19,
      subdomains: base.subdomains || "abc"};
    var layer = L.tileLayer(base.url, opts).addTo(map);
    (base.overlays || []).forEach(function (u) { L.tileLayer(u, opts).addTo(map); });
    return layer;
  }

  /* GK coordinates under the cursor, bottom left. */
  function addCursorCoords(map, system, zh) {
    var C = L.Control.extend({
      options: {position: "bottomleft"},
      onAdd: function () {
        var div = L.DomUtil.create("div", "cursor-coords");
        div.id = "cursor-coords";
        map.on("mousemove", function (ev) {
          var ll = window.ECZ_COORDS.fromView(system, ev.latlng.lng, ev.latlng.lat);
          var g = gk(ll[0], ll[1]);
          div.textContent = (zh ? "经纬度 " : "lon/lat ") + ll[0].toFixed(6) + ", " + ll[1].toFixed(6) +
            " · CGCS2000 " + (zh ? "高斯-克吕格 " + g.zone + " 带" : "GK zone " + g.zone) +
            " (EPSG:" + g.epsg + ") X=" + g.y.toFixed(2) + " Y=" + g.x.toFixed(2);
        });
        return div;
      }
    });
    map.addControl(new C());
  }

  /* A measure tool: click points, double-click to finish; a polygon when closed. */
  function addMeasure(map, system, zh) {
    var active = false, points = [], line = null, box = null;
    function reset() { points = []; if (line) { map.removeLayer(line); line = null; } }
    function show() {
      var ll = points.map(function (p) { return window.ECZ_COORDS.fromView(system, p.lng, p.lat); });
      var closed = ll.length > 2;
      var m = measure(ll, false), mc = measure(ll, true);
      box.textContent = (zh ? "长度 " : "length ") + fmtLength(m.length, zh) +
        (closed ? (zh ? " · 闭合面积 " : " · closed area ") + fmtArea(mc.area, zh) : "");
    }
    function click(ev) {
      points.push(ev.latlng);
      if (line) { line.setLatLngs(points); } else { line = L.polyline(points, {color: "#d95f0e", dashArray: "4 4"}).addTo(map); }
      show();
    }
    var C = L.Control.extend({
      options: {position: "topleft"},
      onAdd: function () {
        var wrap = L.DomUtil.create("div", "leaflet-bar measure-control");
        var button = L.DomUtil.create("a", "", wrap);
        button.href = "#"; button.id = "measure-toggle";
        button.title = zh ? "测量距离和面积" : "Measure distance and area";
        button.textContent = zh ? "测" : "M";
        box = L.DomUtil.create("div", "measure-result", wrap);
        box.id = "measure-result";
        L.DomEvent.on(button, "click", function (ev) {
          L.DomEvent.stop(ev);
          active = !active;
          button.classList.toggle("active", active);
          map.getContainer().style.cursor = active ? "crosshair" : "";
          if (active) { reset(); box.textContent = zh ? "单击地图添加测量点" : "Click the map to add points"; map.on("click", click); map.doubleClickZoom.disable(); }
          else { map.off("click", click); map.doubleClickZoom.enable(); reset(); box.textContent = ""; }
        });
        return wrap;
      }
    });
    map.addControl(new C());
  }

  window.ECZ_MAP = {
    gk: gk, measure: measure, geojsonArea: geojsonArea, drawLocal: DRAW_ZH,
    addBasemap: addBasemap, addCursorCoords: addCursorCoords, addMeasure: addMeasure,
    /* Leaflet.draw in the page's language */
    localiseDraw: function (lang) { if (lang === "zh" && L.drawLocal) { L.drawLocal = DRAW_ZH; } }
  };
})();
