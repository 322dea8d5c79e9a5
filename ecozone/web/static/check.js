/* The site check page: draw / upload / paste a site, check it, show and download the report. */
(function () {
  "use strict";
  var E = window.ECZ, t = E.t, el = E.el;
  var form = document.getElementById("check-form");
  var errorBox = document.getElementById("check-error");
  var statusBox = document.getElementById("site-status");
  var site = null;        /* GeoJSON geometry (WGS84) from drawing or a file */
  var lastBody = null;    /* body of the last successful check, for downloads */

  /* ---- tabs ---- */
  document.querySelectorAll(".tab").forEach(function (tab) {
    tab.addEventListener("click", function () {
      document.querySelectorAll(".tab").forEach(function (x) { x.classList.toggle("active", x === tab); });
      document.getElementById("panel-single").hidden = tab.dataset.tab !== "single";
      document.getElementById("panel-batch").hidden = tab.dataset.tab !== "batch";
      if (tab.dataset.tab === "single") { map.invalidateSize(); }
    });
  });

  /* ---- map ---- */
  /* Data is WGS84; a GCJ-02/BD-09 basemap gets everything shifted into its system. */
  var BASE = E.config.basemap || {kind: "none", system: "wgs84"};
  var SYS = BASE.system || "wgs84";
  var C = window.ECZ_COORDS, M = window.ECZ_MAP, ZH = E.config.lang === "zh";
  function view(g) { return C.geojsonToView(SYS, g); }
  function unview(g) { return C.geojsonFromView(SYS, g); }
  function viewBounds(w) {  /* [w, s, e, n] (WGS84) → Leaflet bounds on the basemap */
    var sw = C.toView(SYS, w[0], w[1]), ne = C.toView(SYS, w[2], w[3]);
    return [[sw[1], sw[0]], [ne[1], ne[0]]];
  }
  var map = L.map("map", {zoomControl: true}).setView([39.9, 116.4], 9);
  window.ECZ_PAGE_MAP = map;  /* for tests and the browser console */
  M.addBasemap(map, BASE);
  L.control.scale({imperial: false}).addTo(map);  /* metres only */
  M.localiseDraw(E.config.lang);
  M.addCursorCoords(map, SYS, ZH);
  M.addMeasure(map, SYS, ZH);
  var contextGroup = L.featureGroup().addTo(map);
  var resultGroup = L.featureGroup().addTo(map);
  var drawn = L.featureGroup().addTo(map);
  var layerControl = L.control.layers(null, null, {collapsed: true}).addTo(map);
  map.addControl(new L.Control.Draw({
    position: "topleft",
    draw: {polygon: {allowIntersection: false, showArea: false}, polyline: true, rectangle: true,
      marker: true, circle: false, circlemarker: false},
    edit: {featureGroup: drawn, remove: true}
  }));

  function label(text) { return el("span", null, text); }

  function styleOf(s, hit) {
    return {color: s.color, weight: hit ? s.weight + 2 : s.weight, fillColor: s.fill || s.color,
      fillOpacity: s.fill ? s.fill_opacity : 0, dashArray: s.dash || null, opacity: 0.9};
  }

  function geoLayer(fc, s) {
    return L.geoJSON(view(fc), {
      style: function (f) { return styleOf(s, f.properties && f.properties.hit); },
      pointToLayer: function (f, ll) {
        var st = styleOf(s, f.properties && f.properties.hit);
        st.radius = s.radius || 5;
        st.fillOpacity = 0.9;
        return L.circleMarker(ll, st);
      },
      onEachFeature: function (f, layer) {
        var p = f.properties || {};
        var name = [s.label, p.name || "", p.feature_id ? "(" + p.feature_id + ")" : ""].join(" ");
        if (BASE.kind === "none" && p.kind === "boundary" && p.name) {
          /* the reference map: district names on the map itself */
          layer.bindTooltip(label(p.name), {permanent: true, direction: "center", className: "district-label"});
        } else {
          layer.bindTooltip(label(name), {sticky: true});
        }
      }
    });
  }

  var kindLabels = E.config.kind_labels || {};  /* layer kind → label */
  var contextLayers = [];
  function loadContext(pack) {
    contextLayers.forEach(function (l) { layerControl.removeLayer(l); });
    contextLayers = [];
    contextGroup.clearLayers();
    E.api("/api/map/context?pack=" + encodeURIComponent(pack) + "&lang=" + E.config.lang)
      .then(function (r) { return r.json(); })
      .then(function (data) {
        data.layers.forEach(function (item) {
          kindLabels[item.kind] = item.style.label;
          var layer = geoLayer(item.features, item.style);
          contextGroup.addLayer(layer);
          contextLayers.push(layer);
          layerControl.addOverlay(layer, item.style.label);
        });
        if (data.bounds && !site) {
          map.fitBounds(viewBounds(data.bounds));
        }
      })
      .catch(function (err) { E.showError(errorBox, err); });
  }
  var packSelect = document.getElementById("pack");
  packSelect.addEventListener("change", function () { loadContext(packSelect.value); });
  loadContext(packSelect.value);

  function setSite(geometry, text) {
    site = geometry;
    statusBox.textContent = text || "";
  }

  map.on(L.Draw.Event.CREATED, function (e) {
    drawn.clearLayers();
    drawn.addLayer(e.layer);
    setMode("draw");
    setSite(unview(e.layer.toGeoJSON().geometry), t("mode_draw") + ": " + e.layerType);
  });
  map.on(L.Draw.Event.EDITED, function () {
    var layers = drawn.getLayers();
    if (layers.length) { setSite(unview(layers[0].toGeoJSON().geometry), t("mode_draw")); }
  });
  map.on(L.Draw.Event.DELETED, function () { if (!drawn.getLayers().length) { setSite(null, ""); } });

  /* ---- input modes ---- */
  function setMode(mode) {
    form.querySelectorAll("input[name=mode]").forEach(function (r) { r.checked = r.value === mode; });
    ["draw", "upload", "paste"].forEach(function (m) {
      form.querySelectorAll(".mode-" + m).forEach(function (n) { n.hidden = m !== mode; });
    });
  }
  form.querySelectorAll("input[name=mode]").forEach(function (r) {
    r.addEventListener("change", function () { setMode(r.value); });
  });
  function mode() { return form.querySelector("input[name=mode]:checked").value; }

  var coordsSelect = document.getElementById("coords");
  coordsSelect.addEventListener("change", function () {
    form.querySelector(".gk-zone").hidden = coordsSelect.value !== "gk";
  });
  function zone() { return coordsSelect.value === "gk" ? parseInt(document.getElementById("gk-zone").value, 10) : null; }

  /* The chosen file is read by the server; choosing another coordinate system or zone
     reads it again, and 检查 waits for a read still under way: any order works. */
  var fileInput = document.getElementById("site-file");
  var pendingParse = null;
  fileInput.addEventListener("change", function () { parseFile(); });
  coordsSelect.addEventListener("change", function () { if (fileInput.files[0]) { parseFile(); } });
  document.getElementById("gk-zone").addEventListener("change", function () {
    if (fileInput.files[0] && coordsSelect.value === "gk") { parseFile(); }
  });
  function parseFile() {
    var file = fileInput.files[0];
    if (!file) { return Promise.resolve(); }
    setSite(null, "");
    E.showError(errorBox, null);
    var data = new FormData();
    data.append("file", file);
    data.append("coords", coordsSelect.value);
    if (zone()) { data.append("gk_zone", String(zone())); }
    statusBox.textContent = t("reading_file");
    var promise = E.api("/api/parse", {method: "POST", body: data})
      .then(function (r) { return r.json(); })
      .then(function (res) {
        drawn.clearLayers();
        var layer = L.geoJSON(view(res.geometry), {style: {color: "#252525", weight: 2},
          pointToLayer: function (f, ll) { return L.circleMarker(ll, {radius: 7, color: "#252525"}); }});
        drawn.addLayer(layer);
        map.fitBounds(layer.getBounds(), {maxZoom: 15});
        setSite(res.geometry, res.file + ": " + res.features + " " + t("rows"));
        (res.notes || []).concat((res.issues || []).map(function (i) { return i.reason; }))
          .forEach(function (n) { statusBox.appendChild(el("div", {className: "muted"}, n)); });
      })
      .catch(function (err) { setSite(null, ""); E.showError(errorBox, err); })
      .then(function () { pendingParse = null; });
    pendingParse = promise;
    return promise;
  }

  /* ---- the check ---- */
  function project() {
    var flags = [];
    form.querySelectorAll(".p-flag:checked").forEach(function (c) { flags.push(c.value); });
    var p = {
      name: document.getElementById("p-name").value,
      project_type: document.getElementById("p-type").value || null,
      industry_code: document.getElementById("p-industry").value.trim() || null,
      flags: flags,
      development: document.getElementById("p-development").value,
      temporary_land_use: document.getElementById("p-temporary").checked,
      water_supply: document.getElementById("p-water").checked,
      activity: document.getElementById("p-activity").value || null
    };
    var exits = document.getElementById("p-exits").value.trim();
    if (exits) { p.exits = exits; }
    return p;
  }

  function radii() {
    var out = document.getElementById("p-radii").value.split(/[,，\s]+/)
      .map(function (x) { return parseFloat(x); }).filter(function (x) { return x > 0; });
    return out.length ? out.slice(0, 6) : null;
  }

  function body() {
    var b = {pack: packSelect.value, project: project(), lang: E.config.lang, coords: "wgs84",
      radii: radii()};
    if (mode() === "paste") {
      b.coordinates = document.getElementById("coord-text").value;
      b.coords = coordsSelect.value;
      if (zone()) { b.gk_zone = zone(); }
    } else {
      b.geometry = site;  /* drawn on the map or read by /api/parse: already WGS84 */
    }
    return b;
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    E.showError(errorBox, null);
    if (mode() === "upload" && (pendingParse || (!site && fileInput.files[0]))) {
      /* the file is still being read (or was not read yet): check when it is */
      (pendingParse || parseFile()).then(function () { if (site) { runCheck(); } });
      return;
    }
    runCheck();
  });

  function runCheck() {
    var b = body();
    if (!b.geometry && !b.coordinates) {
      E.showError(errorBox, new Error(t(mode() === "upload" ? "choose_file_hint" : "draw_hint")));
      return;
    }
    var km2 = M.geojsonArea(b.geometry) / 1e6;  /* drawn or read sites: ask at once */
    if (km2 > E.config.max_site_km2) {
      if (!window.confirm(t("large_site_confirm", {km2: km2.toFixed(1), limit: E.config.max_site_km2}))) { return; }
      b.confirm_large = true;
    }
    var button = document.getElementById("run-check");
    button.disabled = true;
    button.textContent = t("checking");
    E.api("/api/check?include_map=true", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(b)})
      .then(function (r) { return r.json(); })
      .then(function (report) { lastBody = b; render(report); })
      .catch(function (err) {
        /* pasted coordinates: the server measured a large site and asks first */
        if (err.code === "large_site" && !b.confirm_large && window.confirm(err.message)) {
          b.confirm_large = true;
          return E.api("/api/check?include_map=true", {method: "POST",
            headers: {"Content-Type": "application/json"}, body: JSON.stringify(b)})
            .then(function (r) { return r.json(); })
            .then(function (report) { lastBody = b; render(report); });
        }
        if (err.code !== "large_site") { E.showError(errorBox, err); }
      })
      .catch(function (err) { E.showError(errorBox, err); })
      .then(function () { button.disabled = false; button.textContent = t("run_check"); });
  }

  function render(r) {
    var lang = E.config.lang;
    drawResult(r.map);
    document.getElementById("result").hidden = false;
    var v = document.getElementById("verdict");
    v.className = "verdict v-" + r.verdict.code;
    v.textContent = t("verdict") + ": " + (lang === "en" ? r.verdict.label_en : r.verdict.label_zh);
    document.getElementById("result-project").textContent =
      r.project && r.project.name ? t("project_name") + ": " + r.project.name : "";
    var notes = document.getElementById("notes");
    E.clear(notes);
    (r.notes || []).forEach(function (n) {  // "zh / en" strings, or {kind, text, text_en, asks}
      notes.appendChild(el("li", null, E.noteText(n)));
    });

    var tb = document.querySelector("#sanxian tbody");
    E.clear(tb);
    r.sanxian_table.forEach(function (row) {
      var lines = el("td");
      (lang === "en" && row.situation_en ? row.situation_en : row.findings).forEach(function (line) {
        lines.appendChild(el("div", null, line));
      });
      var src = el("td");
      var srcList = lang === "en" && row.sources_en ? row.sources_en : row.sources;
      (srcList.length ? srcList : ["—"]).forEach(function (s) { src.appendChild(el("div", null, s)); });
      tb.appendChild(el("tr", null, el("td", null, lang === "en" ? row.label_en : row.label_zh),
        lines, el("td", {className: "c-" + row.conclusion}, lang === "en" ? row.conclusion_en : row.conclusion_zh), src));
    });

    var list = document.getElementById("findings");
    E.clear(list);
    if (!r.findings.length) { list.appendChild(el("li", null, t("no_findings"))); }
    r.findings.forEach(function (f) {
      var item = el("li", {className: "finding o-" + f.outcome},
        el("div", {className: "f-title"}, f.title + " — " + (lang === "en" ? f.outcome_en : f.outcome_zh)),
        el("div", null, lang === "en" && f.requirement_en ? f.requirement_en : f.requirement));
      (f.units || []).forEach(function (u) {  // the control units touched: code, name, type
        if (u && typeof u === "object") {
          item.appendChild(el("div", {className: "muted"}, u.unit_code + " " + (u.name || "") + "（" + (u.category_zh || u.category) + "）"));
        } else { item.appendChild(el("div", {className: "muted"}, String(u))); }
      });
      if (f.access_entries && f.access_entries.length) {
        var ul = el("ul");
        var judged = lang === "en" ? f.entries_en : f.entries_zh;  // each entry with its judgement
        f.access_entries.forEach(function (e, i) {
          var text = judged && judged[i] ? judged[i] : "[" + (e.dimension_zh || e.dimension) + "] " + (lang === "en" && e.text_en ? e.text_en : e.text) +
            (e.judgement_zh ? " — " + (lang === "en" ? e.judgement : e.judgement_zh) : "");
          ul.appendChild(el("li", e.judgement ? {className: "j-" + e.judgement} : null, text));
        });
        item.appendChild(ul);
      }
      ((lang === "en" ? f.exceptions_en : f.exceptions_zh) || []).forEach(function (x) {
        item.appendChild(el("div", {className: "exception"}, x));
      });
      var measures = [];
      if (f.distance_m !== null && f.distance_m !== undefined) { measures.push(E.fmt(f.distance_m) + " m"); }
      if (f.overlap_m2) { measures.push(E.fmt(f.overlap_m2) + " m² (" + E.fmt(f.overlap_pct, 2) + "%)"); }
      if (f.length_m) { measures.push(t("length_inside") + " " + E.fmt(f.length_m) + " m (" + E.fmt(f.length_pct, 2) + "%)"); }
      if (measures.length) { item.appendChild(el("div", {className: "muted"}, measures.join(" · "))); }
      var cite = el("div", {className: "cite"}, t("citation") + ": ");
      var srcs = f.sources || [];  // each citation links to its source page, line marked
      if (!srcs.length) { cite.appendChild(document.createTextNode((f.citations || []).join("；") || "—")); }
      srcs.forEach(function (s, i) {
        var label = lang === "en" ? s.text_en : s.text;
        if (i) { cite.appendChild(document.createTextNode("；")); }
        if (s.source_id && /^[a-z0-9-]+$/.test(s.source_id)) {
          var line = s.lines && s.lines.length ? Number(s.lines[0]) : 0;
          var href = "/sources/" + s.source_id + (line ? "?line=" + line + "#L" + line : "");
          cite.appendChild(el("a", {href: href, target: "_blank", rel: "noopener"}, label));
        } else { cite.appendChild(document.createTextNode(label)); }
      });
      item.appendChild(cite);
      list.appendChild(item);
    });

    /* screening rings around the site */
    var radiiAsked = (lastBody && lastBody.radii) || [];
    if (r.screening && r.site && r.site.centroid_lonlat) {
      var c = C.toView(SYS, r.site.centroid_lonlat[0], r.site.centroid_lonlat[1]);
      radiiAsked.forEach(function (m) {
        resultGroup.addLayer(L.circle([c[1], c[0]], {radius: m, color: "#d95f0e", weight: 1.5,
          dashArray: "6 4", fill: false, interactive: false}));
      });
    }
    var scr = document.querySelector("#screening tbody");
    E.clear(scr);
    (r.screening || []).forEach(function (x) {
      scr.appendChild(el("tr", null, el("td", null, "≤ " + E.fmt(x.radius_m) + " m"),
        el("td", null, kindLabels[x.kind] || x.kind), el("td", null, x.label || x.feature_id),
        el("td", null, E.fmt(x.distance_m) + " m"), el("td", null, lang === "en" ? x.direction_en : x.direction_zh)));
    });

    var rel = document.querySelector("#relations tbody");
    E.clear(rel);
    r.relations.forEach(function (x) {
      var d = x.distance_m === null || x.distance_m === undefined ? "—" : E.fmt(x.distance_m) + " m";
      rel.appendChild(el("tr", null, el("td", null, kindLabels[x.kind] || x.kind),
        el("td", null, x.feature_name || x.feature_id || "—"),
        el("td", null, lang === "en" ? x.relation : x.relation_zh), el("td", null, d)));
    });
  }

  function drawResult(m) {
    resultGroup.clearLayers();
    if (!m) { return; }
    m.layers.forEach(function (item) {
      kindLabels[item.kind] = item.style.label;
      resultGroup.addLayer(geoLayer(item.features, item.style));
    });
    var s = m.site.properties.style || {color: "#252525", weight: 2, fill: "#ffffff", fill_opacity: 0.5, radius: 8};
    var siteLayer = L.geoJSON(view(m.site), {
      style: function () { var st = styleOf(s, true); st.fillOpacity = 0.5; return st; },
      pointToLayer: function (f, ll) { var st = styleOf(s, true); st.radius = 9; st.fillOpacity = 0.9; return L.circleMarker(ll, st); }
    });
    resultGroup.addLayer(siteLayer);
    drawn.clearLayers();
    map.fitBounds(viewBounds(m.window));
  }

  /* ---- downloads ---- */
  document.querySelectorAll("button.dl").forEach(function (b) {
    b.addEventListener("click", function () {
      if (!lastBody) { return; }
      var fmt = b.dataset.format;
      b.disabled = true;
      E.api("/api/check/report?format=" + fmt, {method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify(lastBody)})
        .then(function (r) { return r.blob(); })
        .then(function (blob) { E.download(blob, "ecozone-report." + fmt); })
        .catch(function (err) { E.showError(errorBox, err); })
        .then(function () { b.disabled = false; });
    });
  });

  /* ---- batch ---- */
  var batchForm = document.getElementById("batch-form");
  var batchError = document.getElementById("batch-error");
  batchForm.addEventListener("submit", function (ev) {
    ev.preventDefault();
    E.showError(batchError, null);
    var data = new FormData(batchForm);
    if (!data.get("gk_zone")) { data.delete("gk_zone"); }
    var button = document.getElementById("run-batch");
    button.disabled = true;
    E.api("/api/check/batch", {method: "POST", body: data})
      .then(function (r) { return r.json(); })
      .then(renderBatch)
      .catch(function (err) { E.showError(batchError, err); })
      .then(function () { button.disabled = false; });
  });

  /* Batch results on a map: verdict colours, click a site for its verdict and rules. */
  var batchMap = null, batchLayer = null;
  function drawBatchMap(fc) {
    var note = document.getElementById("batch-map-note");
    if (!fc) { return; }
    if (!batchMap) {
      batchMap = L.map("batch-map").setView([39.9, 116.4], 9);
      window.ECZ_BATCH_MAP = batchMap;
      M.addBasemap(batchMap, BASE);
    }
    if (batchLayer) { batchMap.removeLayer(batchLayer); }
    var labels = E.config.verdict_labels || {};
    function look(p) { return labels[p.verdict] || {label: p.verdict, color: "#252525", fill: "#ffffff"}; }
    batchLayer = L.geoJSON(view(fc), {
      style: function (f) { var v = look(f.properties); return {color: v.color, fillColor: v.fill, fillOpacity: 0.6, weight: 2}; },
      pointToLayer: function (f, ll) {
        var v = look(f.properties);
        return L.circleMarker(ll, {radius: 6, color: v.color, fillColor: v.fill, fillOpacity: 0.9, weight: 1.5});
      },
      onEachFeature: function (f, layer) {
        var p = f.properties, v = look(p);
        var box = el("div", {className: "batch-popup"},
          el("strong", null, t("site_id") + " " + p.site_id), el("div", null, t("verdict") + ": " + v.label),
          el("div", null, t("deciding_rules") + ": " + (p.deciding_rules || "—")),
          el("div", {className: "muted"}, t("fired_rules") + ": " + (p.rules || "—").split(";").join("、")));
        layer.bindPopup(box);
        layer.bindTooltip(label(p.site_id + " · " + v.label));
      }
    }).addTo(batchMap);
    if (batchLayer.getLayers().length) { batchMap.fitBounds(batchLayer.getBounds(), {maxZoom: 15}); }
    note.hidden = !fc.truncated;
    note.textContent = fc.truncated ? t("map_truncated", {n: fc.features.length}) : "";
    setTimeout(function () { batchMap.invalidateSize(); }, 0);
  }

  function renderBatch(res) {
    document.getElementById("batch-result").hidden = false;
    var s = res.summary;
    var tb = document.querySelector("#batch-summary tbody");
    E.clear(tb);
    [[t("total"), s.total], [t("checked"), s.checked], [t("errors"), s.errors]].forEach(function (row) {
      tb.appendChild(el("tr", null, el("th", null, row[0]), el("td", null, String(row[1]))));
    });
    var labels = E.config.verdict_labels || {};
    Object.keys(s.by_verdict).forEach(function (k) {
      var name = labels[k] ? labels[k].label : k;
      tb.appendChild(el("tr", null, el("th", null, name), el("td", null, String(s.by_verdict[k]))));
    });
    // what every verdict of the batch rests on: demonstration layers, assumptions
    var notes = document.getElementById("batch-notes");
    E.clear(notes);
    (s.notes || []).forEach(function (n) {
      notes.appendChild(el("li", null, E.noteText(n, true)));
    });
    drawBatchMap(res.map);
    var eb = document.querySelector("#batch-errors tbody");
    E.clear(eb);
    res.errors.forEach(function (e) {
      eb.appendChild(el("tr", null, el("td", null, e.source_row || ""), el("td", null, e.site_id || ""),
        el("td", null, e.stage || ""), el("td", null, e.reason || "")));
    });
    var bytes = atob(res.results.content_base64);
    var arr = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i++) { arr[i] = bytes.charCodeAt(i); }
    var blob = new Blob([arr], {type: res.results.media_type});
    var link = document.getElementById("batch-download");
    link.href = URL.createObjectURL(blob);
    link.setAttribute("download", res.results.filename);
  }
})();
