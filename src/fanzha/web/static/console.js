/* fanzha console behaviour: the wall clock, case clocks, adopting suggestions, transfer rows.
   Plain script, no inline code anywhere (the pages' Content-Security-Policy forbids it). */
(function () {
  "use strict";

  var body = document.body;
  // Server time minus this machine's time, so every clock shows the server's idea of now.
  var serverNow = Date.parse(body.getAttribute("data-server-now") || "");
  var skew = isNaN(serverNow) ? 0 : serverNow - Date.now();
  function now() { return Date.now() + skew; }

  var parts = new Intl.DateTimeFormat("en-CA", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"
  });
  function shanghai(ms) {
    var p = {};
    parts.formatToParts(new Date(ms)).forEach(function (x) { p[x.type] = x.value; });
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + ":" + p.second;
  }
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function duration(seconds) {
    var total = Math.max(0, Math.floor(seconds));
    var h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
    return h ? h + ":" + pad(m) + ":" + pad(s) : m + ":" + pad(s);
  }

  function tick() {
    var clock = document.getElementById("clock");
    if (clock) { clock.textContent = shanghai(now()); }
    document.querySelectorAll(".sla.running").forEach(function (el) {
      var received = Date.parse(el.getAttribute("data-received") || "");
      if (isNaN(received)) { return; }
      var elapsed = (now() - received) / 1000;
      var time = el.querySelector(".sla-time");
      if (time) { time.textContent = duration(elapsed); }
      el.classList.toggle("overdue", elapsed > Number(el.getAttribute("data-target")));
    });
  }
  tick();
  setTimeout(function () { tick(); setInterval(tick, 1000); }, 1000 - (now() % 1000));

  /* ---- Intake form: transfer rows ---- */
  function transferRows() { return Array.prototype.slice.call(document.querySelectorAll("#transfers [data-transfer-row]")); }
  function field(row, name) { return row.querySelector('[name="t_' + name + '"]'); }
  function value(row, name) { var el = field(row, name); return el ? el.value.trim() : ""; }
  function addRow() {
    var template = document.getElementById("transfer-row-template");
    var node = template.content.querySelector("[data-transfer-row]").cloneNode(true);
    document.getElementById("transfers").appendChild(node);
    return node;
  }
  function removeRow(button) {
    var row = button.closest("[data-transfer-row]");
    if (transferRows().length > 1) { row.remove(); return; }
    row.querySelectorAll("input").forEach(function (el) { el.value = el.name === "t_currency" ? "CNY" : ""; });
  }
  function flash(el) {
    el.classList.add("adopted");
    setTimeout(function () { el.classList.remove("adopted"); }, 1500);
  }

  /* ---- Adopting a suggestion copies it into the fields; the officer can still edit everything. ---- */
  function lines(id) {
    var el = document.getElementById(id);
    return el ? el.value.split(/[\n,，、;；]+/).map(function (s) { return s.trim(); }).filter(Boolean) : [];
  }
  function appendLine(id, text) {
    var el = document.getElementById(id);
    if (!el || lines(id).indexOf(text) >= 0) { return; }
    el.value = el.value.replace(/\s+$/, "") + (el.value.trim() ? "\n" : "") + text;
    flash(el);
  }
  function accountLine(data) { return data.bank ? data.number + "，" + data.bank : data.number; }

  function adopted(kind, data) {
    switch (kind) {
      case "transfer":
        return transferRows().some(function (r) { return value(r, "to_account") === data.to_account; });
      case "amount":
        return transferRows().some(function (r) { return value(r, "amount") === data.amount; });
      case "account":
        return lines("suspect_accounts").some(function (l) { return l.indexOf(data.number) === 0; });
      case "phone": return lines("suspect_phones").indexOf(data.phone) >= 0;
      case "url": return lines("suspect_urls").indexOf(data.url) >= 0;
      case "fraud_type":
        var select = document.getElementById("fraud_type");
        return !!select && select.value === data.fraud_type;
    }
    return false;
  }

  function adopt(button) {
    var data = JSON.parse(button.getAttribute("data-payload") || "{}");
    var kind = button.getAttribute("data-adopt");
    var row;
    if (kind === "transfer") {
      row = transferRows().filter(function (r) { return !value(r, "to_account") && (!value(r, "amount") || value(r, "amount") === data.amount); })[0] || addRow();
      ["to_account", "to_bank", "amount", "currency", "occurred_at", "method"].forEach(function (name) {
        var el = field(row, name);
        if (el && data[name]) { el.value = data[name]; }
      });
      flash(row);
    } else if (kind === "amount") {
      row = transferRows().filter(function (r) { return !value(r, "amount"); })[0] || addRow();
      field(row, "amount").value = data.amount;
      field(row, "currency").value = data.currency;
      flash(row);
    } else if (kind === "account") {
      appendLine("suspect_accounts", accountLine(data));
    } else if (kind === "phone") {
      appendLine("suspect_phones", data.phone);
    } else if (kind === "url") {
      appendLine("suspect_urls", data.url);
    } else if (kind === "fraud_type") {
      var select = document.getElementById("fraud_type");
      if (select) { select.value = data.fraud_type; flash(select); }
    }
    markDone(button);
  }
  function markDone(button) {
    button.classList.add("done");
    button.textContent = button.getAttribute("data-done-label") || button.textContent;
  }
  function markAdopted() {
    document.querySelectorAll("[data-adopt]").forEach(function (button) {
      try {
        if (adopted(button.getAttribute("data-adopt"), JSON.parse(button.getAttribute("data-payload") || "{}"))) {
          markDone(button);
        }
      } catch (e) { /* a malformed payload leaves the button as it is */ }
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) { return; }
    var use = target.closest("[data-adopt]");
    if (use) { adopt(use); return; }
    var remove = target.closest("[data-remove-row]");
    if (remove) { removeRow(remove); return; }
    if (target.closest("#add-transfer")) { flash(addRow()); }
  });
  body.addEventListener("htmx:afterSwap", markAdopted);
  markAdopted();

  /* ---- A report is filed once, even if the button is pressed twice. ---- */
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
    form.addEventListener("submit", function () {
      setTimeout(function () {
        form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
      }, 0);
    });
  });
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form[data-submit-once] button[type=submit]").forEach(function (b) { b.disabled = false; });
  });
})();
