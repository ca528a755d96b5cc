// Plaza pages work without JavaScript; this file only adds small conveniences.
// (No inline scripts anywhere: the pages' CSP is script-src 'self'.)
(function () {
  "use strict";

  // Single sign-on lands with the token in the URL fragment: hand it to the server once.
  function finishSso() {
    var form = document.querySelector("form[data-sso-finish]");
    if (!form) return;
    var params = new URLSearchParams(window.location.hash.slice(1));
    var token = params.get("access_token");
    if (!token) return;
    form.elements.access_token.value = token;
    var state = params.get("state");
    if (state && state.charAt(0) === "/" && state.charAt(1) !== "/") form.elements.next.value = state;
    history.replaceState(null, "", window.location.pathname);
    form.submit();
  }

  // Focus the first error summary after a form comes back with errors.
  function focusErrors(root) {
    var summary = (root || document).querySelector(".alert-error[tabindex='-1']");
    if (summary) summary.focus();
  }

  // The service worker caches the shell and recently viewed products (offline browsing).
  function registerWorker() {
    if ("serviceWorker" in navigator && document.body.classList.contains("shop")) {
      navigator.serviceWorker.register("/shop/sw.js", { scope: "/shop" }).catch(function () {});
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    finishSso();
    focusErrors();
    registerWorker();
  });
  document.addEventListener("htmx:afterSwap", function (event) { focusErrors(event.target); });
})();
