// Audio transport for `callcenter dev`: WebRTC straight to the dev server's aiortc peer.
// Signaling is one POST (offer in, answer out) once ICE gathering is complete (no trickle).
// The console in production uses transport-livekit.js instead; both expose the same
// connect(options) -> Promise<Connection> shape under window.callcenterTransports.
(function () {
  "use strict";

  function gathered(pc, timeoutMs) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise(function (resolve) {
      var timer = setTimeout(resolve, timeoutMs);  // what we have by then is enough on a LAN
      pc.addEventListener("icegatheringstatechange", function () {
        if (pc.iceGatheringState === "complete") { clearTimeout(timer); resolve(); }
      });
    });
  }

  // A level meter and a frequency probe on what this page hears (WebAudio analyser).
  function listen(stream, audioEl) {
    audioEl.srcObject = stream;  // Chromium feeds WebAudio from remote WebRTC only while played
    var play = audioEl.play();
    if (play && play.catch) play.catch(function () {});
    var ctx = new (window.AudioContext || window.webkitAudioContext)();
    var source = ctx.createMediaStreamSource(stream);
    var meter = window.callcenterMeter(ctx);
    source.connect(meter.analyser);
    return {
      context: ctx,
      level: meter.level,
      dominantHz: meter.dominantHz,
    };
  }

  // options: {url, body, audio (an <audio> element), onState(text)}
  function connect(options) {
    var pc = new RTCPeerConnection({ iceServers: [] });
    var mic = null;
    var ear = null;
    var state = options.onState || function () {};
    var earReady;
    var earPromise = new Promise(function (resolve) { earReady = resolve; });
    pc.addEventListener("track", function (event) {
      ear = listen(event.streams[0] || new MediaStream([event.track]), options.audio);
      earReady(ear);
    });
    pc.addEventListener("connectionstatechange", function () { state(pc.connectionState); });
    return navigator.mediaDevices.getUserMedia({ audio: true, video: false })
      .then(function (stream) {
        mic = stream;
        stream.getAudioTracks().forEach(function (t) { pc.addTrack(t, stream); });
        return pc.createOffer();
      })
      .then(function (offer) { return pc.setLocalDescription(offer); })
      .then(function () { return gathered(pc, 3000); })
      .then(function () {
        var body = Object.assign({}, options.body || {}, { sdp: pc.localDescription.sdp });
        return window.callcenter.fetch(options.url, {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify(body),
        });
      })
      .then(function (response) {
        return response.json().then(function (data) {
          if (!response.ok) throw new Error(data.detail || ("HTTP " + response.status));
          return data;
        });
      })
      .then(function (data) {
        return pc.setRemoteDescription({ type: "answer", sdp: data.sdp }).then(function () {
          return {
            data: data,
            ear: function () { return ear; },
            heard: earPromise,
            setMuted: function (muted) {
              if (mic) mic.getAudioTracks().forEach(function (t) { t.enabled = !muted; });
            },
            close: function () {
              if (mic) mic.getTracks().forEach(function (t) { t.stop(); });
              if (ear) ear.context.close();
              pc.close();
            },
          };
        });
      })
      .catch(function (error) {
        if (mic) mic.getTracks().forEach(function (t) { t.stop(); });
        pc.close();
        throw error;
      });
  }

  // A meter element that follows a connection's level.
  function meter(connection, bar) {
    var id = setInterval(function () {
      var ear = connection.ear();
      if (!ear) return;
      var pct = Math.min(100, Math.round(ear.level() * 400));
      bar.style.width = pct + "%";
    }, 100);
    return function () { clearInterval(id); bar.style.width = "0"; };
  }

  window.callcenterTransports = window.callcenterTransports || {};
  window.callcenterTransports.webrtc = { connect: connect, meter: meter };
})();
