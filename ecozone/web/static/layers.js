/* The layers page: import a new version with the API token. */
(function () {
  "use strict";
  var E = window.ECZ, t = E.t;
  var form = document.getElementById("import-form");
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
