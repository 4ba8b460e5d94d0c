// Audio transport for production: the console joins the caller's own LiveKit room with a
// room-scoped, short-lived token from the API, through livekit-client. The page picks it
// when its data-transport is "livekit" (no `callcenter dev` attached).
//
// The seam is here; the bundle is not: livekit-client is to be vendored by
// scripts/build-static into admin/static/vendor/, and the token route added to /api/v1.
// Until then connect() says so instead of failing silently.
(function () {
  "use strict";
  function connect() {
    return Promise.reject(new Error(
      "the LiveKit console transport is not bundled yet: run `callcenter dev` for the " +
      "embedded console"));
  }
  window.callcenterTransports = window.callcenterTransports || {};
  window.callcenterTransports.livekit = { connect: connect, meter: function () { return function () {}; } };
})();
