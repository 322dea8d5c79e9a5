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
      var met = m.met === null || m.met === undefined ? t("not_measured") : (m.met ? t("yes") : t("no"));
      var gap = m.gap_pp !== null && m.gap_pp !== undefined ? E.fmt(m.gap_pp, 2) + " pp" :
        (m.gap_abs !== null && m.gap_abs !== undefined ? E.fmt(m.gap_abs, 2) + " " + m.gap_unit : "—");
      var label = (lang === "en" ? m.label_en : m.label) + (m.year ? " (" + m.year + ")" : "");
      var row = el("tr", {className: m.met === true ? "met" : (m.met === false ? "unmet" : "")},
        el("td", null, label, m.reason ? el("div", {className: "muted"}, m.reason) : null),
        el("td", null, value(m.value, m.unit)),
        el("td", null, (m.comparison || "") + " " + value(m.target, m.unit)),
        el("td", null, met), el("td", null, gap), el("td", null, m.citation || "—"));
      tb.appendChild(row);
      if (m.by_district && m.by_district.length) {
        var table = el("table", {className: "grid"},
          el("thead", null, el("tr", null, el("th", null, t("district")), el("th", null, t("value")),
            el("th", null, t("target")), el("th", null, t("met")), el("th", null, t("gap")))));
        var body = el("tbody");
        m.by_district.forEach(function (d) {
          body.appendChild(el("tr", null, el("td", null, d.name || d.adcode || ""),
            el("td", null, value(d.value, m.unit)), el("td", null, value(d.target, m.unit)),
            el("td", null, d.met === null || d.met === undefined ? "—" : (d.met ? t("yes") : t("no"))),
            el("td", null, d.gap_pp !== null && d.gap_pp !== undefined ? E.fmt(d.gap_pp, 2) + " pp" :
              (d.gap_abs !== null && d.gap_abs !== undefined ? E.fmt(d.gap_abs, 2) + " " + m.gap_unit : "—"))));
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
