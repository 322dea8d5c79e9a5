/* ecozone web pages: shared helpers. Text is always inserted with textContent. */
(function () {
  "use strict";
  var strings = JSON.parse(document.getElementById("ecz-i18n").textContent);
  var config = JSON.parse(document.getElementById("ecz-config").textContent);

  /* t("key") or t("key", {name: value}) filling "{name}" in the string */
  function t(key, fields) {
    var s = Object.prototype.hasOwnProperty.call(strings, key) ? strings[key] : key;
    Object.keys(fields || {}).forEach(function (k) { s = s.split("{" + k + "}").join(String(fields[k])); });
    return s;
  }

  /* el("td", {className: "x"}, "text", childNode, ...) */
  function el(tag, attrs) {
    var node = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === "className") { node.className = attrs[k]; }
        else if (k === "text") { node.textContent = attrs[k]; }
        else { node.setAttribute(k, attrs[k]); }
      });
    }
    for (var i = 2; i < arguments.length; i++) {
      var c = arguments[i];
      if (c === null || c === undefined) { continue; }
      node.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    }
    return node;
  }

  function clear(node) { while (node.firstChild) { node.removeChild(node.firstChild); } }

  /* fetch; a non-2xx answer throws an Error carrying the server's message */
  function api(url, options) {
    return fetch(url, options || {}).then(function (resp) {
      if (resp.ok) { return resp; }
      return resp.text().then(function (body) {
        var msg = resp.status + " " + resp.statusText;
        try {
          var j = JSON.parse(body);
          if (j && j.error && j.error.message) { msg = j.error.message; }
          var code = j && j.error ? j.error.code : null;
        } catch (e) { /* not JSON */ }
        var err = new Error(msg);
        err.status = resp.status;
        err.code = code || null;
        throw err;
      });
    });
  }

  function showError(node, err) {
    if (!node) { return; }
    if (!err) { node.hidden = true; node.textContent = ""; return; }
    node.textContent = t("error") + ": " + (err.message || String(err));
    node.hidden = false;
  }

  function download(blob, filename) {
    var url = URL.createObjectURL(blob);
    var a = el("a", {href: url, download: filename});
    a.style.display = "none";
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(url); a.remove(); }, 5000);
  }

  function fmt(value, digits) {
    if (value === null || value === undefined || value === "") { return "—"; }
    if (typeof value === "number") {
      return value.toLocaleString(config.lang === "en" ? "en" : "zh-CN",
        {maximumFractionDigits: digits === undefined ? 1 : digits, minimumFractionDigits: 0});
    }
    return String(value);
  }

  /* A check note in the page's language, and where the page takes what it asks for
     (note.asks: "coords", "industry_code", "flags"; the note's text names none): the
     form's fields, or for a batch file its project columns (the batch form has none) */
  function noteText(n, batch) {
    if (typeof n === "string") { return n; }  // "zh / en" strings
    var text = config.lang === "en" ? n.text_en || n.text : n.text;
    var sep = config.lang === "en" ? ", " : "、";
    var asks = n.asks || [];
    var fields = asks.filter(function (a) { return !batch || a === "coords"; })
      .map(function (a) { return "“" + t(a) + "”"; });
    var columns = asks.filter(function (a) { return batch && a !== "coords"; });
    if (fields.length) { text += t("note_asks", {fields: fields.join(sep)}); }
    if (columns.length) { text += t("note_asks_columns", {columns: columns.join(sep)}); }
    return text;
  }

  window.ECZ = {t: t, config: config, el: el, clear: clear, api: api, showError: showError,
    download: download, fmt: fmt, noteText: noteText};
})();
