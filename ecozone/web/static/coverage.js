/* The coverage page: each target of a pack, per-district tables and the coverage map. */
(function () {
  "use strict";
  var E = window.ECZ, t = E.t, el = E.el;
  var form = document.getElementById("coverage-form");
  var select = document.getElementById("cov-pack");
  var status = document.getElementById("cov-status");
  var errorBox = document.getElementById("cov-error");

  function value(v, unit) {
    if (v === null || v === undefined) { return "—"; }
    return E.fmt(v, 2) + (unit === "%" ? " %" : " " + unit);
  }

  function load() {
    var pack = select.value;
    E.showError(errorBox, null);
    status.textContent = t("computing");
    document.getElementById("cov-map").src = "/coverage/map?pack=" + encodeURIComponent(pack) + "&lang=" + E.config.lang;
    E.api("/api/coverage?pack=" + encodeURIComponent(pack))
      .then(function (r) { return r.json(); })
      .then(render)
      .catch(function (err) { E.showError(errorBox, err); })
      .then(function () { status.textContent = ""; });
  }

  function render(data) {
    var lang = E.config.lang;
    var tb = document.querySelector("#metrics tbody");
    E.clear(tb);
    var districts = document.getElementById("districts");
    E.clear(districts);
    data.metrics.forEach(function (m) {
      // a target is judged only at its scope: met/unmet, or partial / no_data / contribution
      var judged = m.status === "met" || m.status === "unmet";
      var mark = (m.status === "met" ? "✓ " : (m.status === "unmet" ? "✗ " : ""));
      var status = mark + (lang === "en" ? m.status_en : m.status_zh);
      var gap = !judged ? "—" : (m.gap_pp !== null && m.gap_pp !== undefined ? E.fmt(m.gap_pp, 2) + " pp" :
        (m.gap_abs !== null && m.gap_abs !== undefined ? E.fmt(m.gap_abs, 2) + " " + m.gap_unit : "—"));
      var label = (lang === "en" ? m.label_en : m.label) + (m.year ? " (" + m.year + ")" : "");
      var notes = (m.notes || []).map(function (n) { return lang === "en" ? n.text_en : n.text; });
      var row = el("tr", {className: "status-" + m.status + (m.binding ? "" : " aspiration")},
        el("td", null, label, notes.length ? el("div", {className: "muted"}, notes.join(" ")) : null),
        el("td", null, m.scope_name || m.scope || ""),
        el("td", null, m.value === null || m.value === undefined ? t("no_data") : value(m.value, m.unit)),
        el("td", null, (m.comparison || "") + " " + value(m.target, m.unit)),
        el("td", null, lang === "en" ? m.nature_en : m.nature_zh),
        el("td", null, status), el("td", null, gap), el("td", null, m.citation_text || m.citation || "—"));
      tb.appendChild(row);
      if (m.by_district && m.by_district.length) {
        var table = el("table", {className: "grid"},
          el("thead", null, el("tr", null, el("th", null, t("district")), el("th", null, t("value")),
            el("th", null, t("area_km2")), el("th", null, t("met")))));
        var body = el("tbody");
        m.by_district.forEach(function (d) {
          var km2 = [d.measured_km2, d.covered_km2, d.park_km2, d.forest_km2].filter(function (v) {
            return v !== null && v !== undefined; })[0];
          var ok = d.status === "contribution";
          body.appendChild(el("tr", {className: "status-" + (d.status || "")}, el("td", null, d.name || d.adcode || ""),
            el("td", null, ok ? value(d.value, m.unit) : t("no_data")),
            el("td", null, ok && km2 !== undefined ? E.fmt(km2, 2) : "—"),
            el("td", null, ok ? t("contribution") : t("no_data"))));
        });
        table.appendChild(body);
        var details = el("details", null, el("summary", null, t("by_district") + ": " + label), table);
        if (!districts.firstChild) { details.open = true; }
        districts.appendChild(details);
      }
    });
  }

  form.addEventListener("submit", function (ev) { ev.preventDefault(); load(); });
  load();
})();
