// Paperboy's only script of its own: LaTeX rendering and copy buttons (no inline scripts).
(function () {
  "use strict";

  function renderMath(root) {
    if (typeof window.renderMathInElement !== "function") return;
    var elements = Array.prototype.slice.call(root.querySelectorAll(".math"));
    if (root.matches(".math")) elements.push(root);
    elements.forEach(function (element) {
      window.renderMathInElement(element, {
        delimiters: [
          { left: "$$", right: "$$", display: true },
          { left: "\\[", right: "\\]", display: true },
          { left: "$", right: "$", display: false },
          { left: "\\(", right: "\\)", display: false },
        ],
        throwOnError: false,
        trust: false,
        // a hostile title ($\rule{3000em}{3000em}$, a macro bomb) stays small and quick
        maxSize: 5,
        maxExpand: 200,
      });
    });
  }

  function copy(button) {
    var text = button.dataset.copy;
    if (button.dataset.copyFrom) {
      text = document.getElementById(button.dataset.copyFrom).textContent;
    }
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done);
    } else {
      var area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
      done();
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest(".copy-link");
    if (button) copy(button);
  });
  // An empty date field would be sent as "from=", which the server refuses as an invalid date
  // (and the pushed URL would then fail on reload): leave empty fields out of GET requests.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get") return;
    var params = event.detail.parameters;
    Object.keys(params).forEach(function (name) {
      if (params[name] === "") delete params[name];
    });
  });
  document.addEventListener("DOMContentLoaded", function () {
    renderMath(document.body);
    // The search filters fold away on a phone; on a wider screen they start open.
    var filters = document.getElementById("filters");
    if (filters && window.matchMedia("(min-width: 700px)").matches) filters.open = true;
  });
  // htmx:load names the content a swap brought in; htmx:afterSwap's target is the replaced
  // element, already detached after an outerHTML swap (the search results).
  document.addEventListener("htmx:load", function (event) {
    if (event.detail.elt !== document.body) renderMath(event.detail.elt);
  });
})();
