// Audio transport for production: the console joins the caller's own LiveKit room with a
// room-scoped, short-lived token from the API (POST /api/v1/calls/{id}/livekit-token),
// through livekit-client (vendored by scripts/build-static, loaded on first use). The page
// picks it when its data-transport is "livekit" (no `callcenter dev` attached).
// Same connect(options) -> Promise<Connection> shape as transport-webrtc.js.
(function () {
  "use strict";

  var SDK = "/static/vendor/livekit-client-2.23.0.min.js";
  var sdkPromise = null;

  function sdk() {
    if (window.LivekitClient) return Promise.resolve(window.LivekitClient);
    if (!sdkPromise) {
      sdkPromise = new Promise(function (resolve, reject) {
        var el = document.createElement("script");  // a file, not inline: the CSP holds
        el.src = SDK;
        el.onload = function () { resolve(window.LivekitClient); };
        el.onerror = function () {
          sdkPromise = null;
          reject(new Error("could not load " + SDK + " (run scripts/build-static)"));
        };
        document.head.appendChild(el);
      });
    }
    return sdkPromise;
  }

  // The console names its dev routes /console/calls/{id}/join|monitor; the call id and the
  // mode are all this transport needs from them.
  function callOf(options) {
    var m = /\/calls\/([^/]+)\/(join|monitor)/.exec(options.url || "");
    var id = options.callId || (m && decodeURIComponent(m[1]));
    if (!id) throw new Error("no call id in " + options.url);
    return { id: id, monitor: options.monitor || (m && m[2] === "monitor") || false };
  }

  function token(call) {
    var url = "/api/v1/calls/" + encodeURIComponent(call.id) + "/livekit-token" +
      (call.monitor ? "?mode=monitor" : "");
    return window.callcenter.fetch(url, { method: "POST" }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.detail || ("HTTP " + response.status));
        return data;
      });
    });
  }

  // Everyone this page hears (caller, agent) into one analyser: the level meter and the
  // frequency probe the tests read, as on the dev transport.
  function makeEar(audioEl) {
    var ctx = new (window.AudioContext || window.webkitAudioContext)();
    var meter = window.callcenterMeter(ctx);
    var first = true;
    return {
      context: ctx,
      add: function (track) {
        // Chromium feeds WebAudio from remote WebRTC only while the track is played.
        var el = first && audioEl ? track.attach(audioEl) : track.attach();
        first = false;
        ctx.createMediaStreamSource(new MediaStream([track.mediaStreamTrack])).connect(meter.analyser);
        return el;
      },
      level: meter.level,
      dominantHz: meter.dominantHz,
    };
  }

  // options: {url (the console's join/monitor path) or callId, audio, onState(text)}
  function connect(options) {
    var state = options.onState || function () {};
    var call;
    try { call = callOf(options); } catch (e) { return Promise.reject(e); }
    var room = null;
    var ear = null;
    var earReady;
    var heard = new Promise(function (resolve) { earReady = resolve; });
    return Promise.all([sdk(), token(call)]).then(function (got) {
      var LK = got[0], data = got[1];
      room = new LK.Room({ adaptiveStream: false, dynacast: false });
      room.on(LK.RoomEvent.ConnectionStateChanged, function (s) { state(String(s)); });
      room.on(LK.RoomEvent.TrackSubscribed, function (track) {
        if (track.kind !== LK.Track.Kind.Audio) return;
        if (!ear) ear = makeEar(options.audio);
        ear.add(track);
        earReady(ear);
      });
      state("connecting");
      return room.connect(data.url, data.token, { autoSubscribe: true }).then(function () {
        // A monitor's token cannot publish: no microphone is ever opened for it.
        return call.monitor ? null : room.localParticipant.setMicrophoneEnabled(true);
      }).then(function () {
        return {
          data: data,
          room: room,
          ear: function () { return ear; },
          heard: heard,
          setMuted: function (muted) {
            if (call.monitor) return Promise.resolve();
            return room.localParticipant.setMicrophoneEnabled(!muted);
          },
          close: function () {
            if (ear) ear.context.close();
            return room.disconnect();
          },
        };
      });
    }).catch(function (error) {
      if (room) room.disconnect();
      throw error;
    });
  }

  function meter(connection, bar) {
    var id = setInterval(function () {
      var ear = connection.ear();
      if (!ear) return;
      bar.style.width = Math.min(100, Math.round(ear.level() * 400)) + "%";
    }, 100);
    return function () { clearInterval(id); bar.style.width = "0"; };
  }

  window.callcenterTransports = window.callcenterTransports || {};
  window.callcenterTransports.livekit = { connect: connect, meter: meter, sdk: sdk };
})();
