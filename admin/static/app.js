// callcenter web app: the little behaviour every page shares. No inline scripts anywhere
// (the Content-Security-Policy forbids them), so pages opt in with data- attributes.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // fetch() for pages' own scripts: same-origin, with the CSRF header on every call.
  window.callcenter = {
    csrfToken: csrfToken,
    fetch: function (url, options) {
      options = options || {};
      var headers = new Headers(options.headers || {});
      headers.set("X-CSRF-Token", csrfToken());
      options.headers = headers;
      options.credentials = "same-origin";
      return window.fetch(url, options);
    },
  };

  // htmx reads hx-headers from <body>; this also covers requests htmx builds elsewhere.
  document.addEventListener("htmx:configRequest", function (event) {
    event.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  // <form data-confirm="..."> asks before submitting (revoke, delete, publish).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form && form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });
})();
