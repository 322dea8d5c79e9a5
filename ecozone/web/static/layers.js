/* The layers page: import a new version with the API token. */
(function () {
  "use strict";
  var E = window.ECZ, t = E.t;
  /* times are stored in UTC (ISO 8601): shown in the reader's local time, to the minute */
  document.querySelectorAll("time[datetime]").forEach(function (node) {
    var d = new Date(node.getAttribute("datetime"));
    if (isNaN(d.getTime())) { return; }
    node.title = node.getAttribute("datetime");
    node.textContent = d.toLocaleString(E.config.lang === "zh" ? "zh-CN" : "en-GB",
      {year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false});
  });
  var form = document.getElementById("import-form");
  if (!form) { return; }  /* imports are off on this server */
  var errorBox = document.getElementById("import-error");
  var ok = document.getElementById("import-ok");
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    E.showError(errorBox, null);
    ok.hidden = true;
    var data = new FormData(form);
    var name = String(data.get("name") || "");
    data.delete("name");
    if (!data.get("gk_zone")) { data.delete("gk_zone"); }
    if (!data.get("source_date")) { data.delete("source_date"); }
    var token = document.getElementById("imp-token").value;
    E.api("/api/layers/" + encodeURIComponent(name), {method: "POST", body: data,
      headers: {"Authorization": "Bearer " + token}})
      .then(function (r) { return r.json(); })
      .then(function (res) {
        ok.textContent = res.layer.name + " v" + res.layer.version + " (" + res.layer.row_count + " " + t("rows") + ")";
        ok.hidden = false;
        setTimeout(function () { window.location.reload(); }, 800);
      })
      .catch(function (err) { E.showError(errorBox, err); });
  });
})();
