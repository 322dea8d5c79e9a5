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
  var map = L.map("map", {zoomControl: true}).setView([39.9, 116.4], 9);
  if (E.config.basemap && E.config.basemap !== "none") {
    L.tileLayer(E.config.basemap, {attribution: E.config.basemap_attribution, maxZoom: 19}).addTo(map);
  }
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
    return L.geoJSON(fc, {
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
        layer.bindTooltip(label(name), {sticky: true});
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
          map.fitBounds([[data.bounds[1], data.bounds[0]], [data.bounds[3], data.bounds[2]]]);
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
    setSite(e.layer.toGeoJSON().geometry, t("mode_draw") + ": " + e.layerType);
  });
  map.on(L.Draw.Event.EDITED, function () {
    var layers = drawn.getLayers();
    if (layers.length) { setSite(layers[0].toGeoJSON().geometry, t("mode_draw")); }
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

  document.getElementById("site-file").addEventListener("change", function (ev) {
    var file = ev.target.files[0];
    if (!file) { return; }
    E.showError(errorBox, null);
    var data = new FormData();
    data.append("file", file);
    data.append("coords", coordsSelect.value);
    if (zone()) { data.append("gk_zone", String(zone())); }
    statusBox.textContent = t("checking");
    E.api("/api/parse", {method: "POST", body: data})
      .then(function (r) { return r.json(); })
      .then(function (res) {
        drawn.clearLayers();
        var layer = L.geoJSON(res.geometry, {style: {color: "#252525", weight: 2},
          pointToLayer: function (f, ll) { return L.circleMarker(ll, {radius: 7, color: "#252525"}); }});
        drawn.addLayer(layer);
        map.fitBounds(layer.getBounds(), {maxZoom: 15});
        setSite(res.geometry, res.file + ": " + res.features + " " + t("rows"));
        (res.notes || []).concat((res.issues || []).map(function (i) { return i.reason; }))
          .forEach(function (n) { statusBox.appendChild(el("div", {className: "muted"}, n)); });
      })
      .catch(function (err) { setSite(null, ""); E.showError(errorBox, err); });
  });

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
      water_supply: document.getElementById("p-water").checked
    };
    var exits = document.getElementById("p-exits").value.trim();
    if (exits) { p.exits = exits; }
    return p;
  }

  function body() {
    var b = {pack: packSelect.value, project: project(), lang: E.config.lang, coords: "wgs84"};
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
    var b = body();
    if (!b.geometry && !b.coordinates) {
      E.showError(errorBox, new Error(t("draw_hint")));
      return;
    }
    var button = document.getElementById("run-check");
    button.disabled = true;
    button.textContent = t("checking");
    E.api("/api/check?include_map=true", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify(b)})
      .then(function (r) { return r.json(); })
      .then(function (report) { lastBody = b; render(report); })
      .catch(function (err) { E.showError(errorBox, err); })
      .then(function () { button.disabled = false; button.textContent = t("run_check"); });
  });

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
    (r.notes || []).forEach(function (n) { notes.appendChild(el("li", null, n)); });

    var tb = document.querySelector("#sanxian tbody");
    E.clear(tb);
    r.sanxian_table.forEach(function (row) {
      var lines = el("td");
      row.findings.forEach(function (line) { lines.appendChild(el("div", null, line)); });
      var src = el("td");
      (row.sources.length ? row.sources : ["—"]).forEach(function (s) { src.appendChild(el("div", null, s)); });
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
      if (f.access_entries && f.access_entries.length) {
        var ul = el("ul");
        f.access_entries.forEach(function (e) {
          ul.appendChild(el("li", null, "[" + (e.dimension_zh || e.dimension) + "] " + (lang === "en" && e.text_en ? e.text_en : e.text)));
        });
        item.appendChild(ul);
      }
      var measures = [];
      if (f.distance_m !== null && f.distance_m !== undefined) { measures.push(E.fmt(f.distance_m) + " m"); }
      if (f.overlap_m2) { measures.push(E.fmt(f.overlap_m2) + " m² (" + E.fmt(f.overlap_pct, 2) + "%)"); }
      if (measures.length) { item.appendChild(el("div", {className: "muted"}, measures.join(" · "))); }
      item.appendChild(el("div", {className: "cite"}, t("citation") + ": " + ((f.citations || []).join("；") || "—")));
      list.appendChild(item);
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
    var siteLayer = L.geoJSON(m.site, {
      style: function () { var st = styleOf(s, true); st.fillOpacity = 0.5; return st; },
      pointToLayer: function (f, ll) { var st = styleOf(s, true); st.radius = 9; st.fillOpacity = 0.9; return L.circleMarker(ll, st); }
    });
    resultGroup.addLayer(siteLayer);
    drawn.clearLayers();
    var w = m.window;
    map.fitBounds([[w[1], w[0]], [w[3], w[2]]]);
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

  function renderBatch(res) {
    document.getElementById("batch-result").hidden = false;
    var s = res.summary;
    var tb = document.querySelector("#batch-summary tbody");
    E.clear(tb);
    [[t("total"), s.total], [t("checked"), s.checked], [t("errors"), s.errors]].forEach(function (row) {
      tb.appendChild(el("tr", null, el("th", null, row[0]), el("td", null, String(row[1]))));
    });
    Object.keys(s.by_verdict).forEach(function (k) {
      tb.appendChild(el("tr", null, el("th", null, k), el("td", null, String(s.by_verdict[k]))));
    });
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
