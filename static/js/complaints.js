// Live SLA countdowns of the complaint pages: every [data-countdown="<epoch seconds>"] shows the time left to its
// deadline (or how long ago it passed) in the page's language (Intl.RelativeTimeFormat), refreshed every 30 s; a
// deadline that passes while the page is open turns its badge red. No inline script (CSP).
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";
  var format = window.Intl && Intl.RelativeTimeFormat ? new Intl.RelativeTimeFormat(lang, {numeric: "always"}) : null;

  function phrase(seconds) {
    var abs = Math.abs(seconds), sign = seconds < 0 ? -1 : 1;
    var units = [[86400, "day"], [3600, "hour"], [60, "minute"]];
    for (var i = 0; i < units.length; i++) {
      if (abs >= units[i][0] || i === units.length - 1) {
        var n = Math.max(1, Math.floor(abs / units[i][0]));
        return format ? format.format(sign * n, units[i][1]) : (sign * n) + " " + units[i][1];
      }
    }
    return "";
  }

  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = Number(el.getAttribute("data-countdown")) - now;
      el.textContent = phrase(left);
      if (left < 0) {
        el.classList.remove("text-muted", "text-warning-emphasis");
        el.classList.add("text-danger");
        var badge = el.previousElementSibling;
        if (badge && badge.classList.contains("sla-badge") && badge.getAttribute("data-state") !== "breached") {
          badge.classList.remove("text-bg-primary", "text-bg-warning");
          badge.classList.add("text-bg-danger");
        }
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () { tick(); window.setInterval(tick, 30000); });
})();
