/* Money-flow page: mark the account whose details the side panel shows (the graph node and its to-do row).
   Plain script, no inline code (the Content-Security-Policy forbids it); htmx does the loading. */
(function () {
  "use strict";

  function select(id) {
    document.querySelectorAll("[data-flow-account]").forEach(function (el) {
      var on = el.getAttribute("data-flow-account") === id;
      el.classList.toggle("selected", on);
      if (on) { el.setAttribute("aria-current", "true"); } else { el.removeAttribute("aria-current"); }
    });
  }

  document.body.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || target.id !== "flow-panel") { return; }
    var shown = target.querySelector("[data-account]");
    if (shown) { select(shown.getAttribute("data-account")); }
    target.scrollTop = 0;
  });

  var initial = document.querySelector("#flow-panel [data-account]");
  if (initial) { select(initial.getAttribute("data-account")); }
})();
