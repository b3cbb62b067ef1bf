// Page behaviour that would otherwise be inline: the Content-Security-Policy allows scripts from files only
// (no inline <script>, no on… attributes) and no style attributes. Loaded on every page by base.html.
(function () {
  "use strict";

  // <select data-autosubmit>: submit its form on change (the language switcher).
  document.addEventListener("change", function (event) {
    var el = event.target;
    if (el.matches && el.matches("select[data-autosubmit]") && el.form) {
      el.form.submit();
    }
  });

  // <form data-confirm="question">: ask before submitting.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, true);

  // [data-width="42"]: a width in percent (progress bars), set through the CSSOM, which the CSP allows.
  function applyWidths(root) {
    var nodes = root.querySelectorAll ? Array.prototype.slice.call(root.querySelectorAll("[data-width]")) : [];
    if (root.matches && root.matches("[data-width]")) nodes.push(root);
    nodes.forEach(function (el) {
      el.style.width = Math.max(0, Math.min(100, Number(el.getAttribute("data-width")) || 0)) + "%";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { applyWidths(document); });
  document.addEventListener("htmx:load", function (event) { applyWidths(event.detail.elt); });

  // Inside [data-htmx-show-errors], a 429 (too many requests) answer is HTML meant to be shown in place:
  // htmx 2 does not swap 4xx answers by default.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    var elt = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (status === 429 && elt && elt.closest && elt.closest("[data-htmx-show-errors]")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();
