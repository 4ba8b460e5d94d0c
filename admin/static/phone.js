// The browser phone page: dial over WebRTC, press keys, follow the transcript by SSE.
(function () {
  "use strict";
  var root = document.getElementById("phone");
  if (!root) return;
  var transport = window.callcenterTransports.webrtc;
  var numberInput = document.getElementById("phone-number");
  var callBtn = document.getElementById("phone-call");
  var hangupBtn = document.getElementById("phone-hangup");
  var statusEl = document.getElementById("phone-status");
  var transcript = document.getElementById("phone-transcript");
  var audio = document.getElementById("phone-audio");
  var bar = document.getElementById("phone-meter");
  var call = null;  // {id, connection, events, stopMeter}

  function setState(state, text) {
    root.setAttribute("data-state", state);
    statusEl.textContent = text;
    callBtn.disabled = state !== "idle";
    hangupBtn.disabled = state === "idle";
  }

  function post(path, body) {
    return window.callcenter.fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    });
  }

  function addLine(html) {
    var empty = transcript.querySelector(".empty-inline");
    if (empty) empty.remove();
    // Server-rendered, autoescaped partials: one source of markup for every line.
    transcript.insertAdjacentHTML("beforeend", html);
    transcript.scrollTop = transcript.scrollHeight;
  }

  function finish(text) {
    if (!call) return;
    if (call.events) call.events.close();
    if (call.stopMeter) call.stopMeter();
    if (call.connection) call.connection.close();
    call = null;
    setState("idle", text);
  }

  function dial() {
    var number = numberInput.value.trim();
    if (!number) { statusEl.textContent = "Type a number to call."; return; }
    setState("calling", "Calling " + number + "…");
    transcript.innerHTML = "";
    call = {};
    transport.connect({
      url: "/phone/calls", body: { number: number }, audio: audio,
      onState: function (s) {
        if (s === "connected") setState("connected", "Connected to " + number + ".");
        if ((s === "failed" || s === "closed") && call) finish("Call ended (" + s + ").");
      },
    }).then(function (connection) {
      if (!call) { connection.close(); return; }
      call.connection = connection;
      call.id = connection.data.call_id;
      root.setAttribute("data-call-id", call.id);
      call.stopMeter = transport.meter(connection, bar);
      var events = new EventSource("/phone/calls/" + encodeURIComponent(call.id) + "/events");
      call.events = events;
      events.addEventListener("transcript", function (e) { addLine(e.data); });
      events.addEventListener("keys", function (e) { addLine(e.data); });
      events.addEventListener("ended", function (e) { addLine(e.data); finish("Call ended."); });
    }).catch(function (error) {
      call = null;
      setState("idle", "Could not call: " + error.message);
    });
  }

  function hangup() {
    if (!call) return;
    var id = call.id;
    finish("You hung up.");
    if (id) post("/phone/calls/" + encodeURIComponent(id) + "/hangup");
  }

  function key(digit) {
    if (call && call.id) {
      post("/phone/calls/" + encodeURIComponent(call.id) + "/dtmf", { digits: digit });
    } else {
      numberInput.value += digit;
    }
  }

  callBtn.addEventListener("click", dial);
  hangupBtn.addEventListener("click", hangup);
  document.getElementById("dialpad").addEventListener("click", function (event) {
    var button = event.target.closest("[data-key]");
    if (button) key(button.getAttribute("data-key"));
  });
  window.addEventListener("pagehide", hangup);

  // For tests and the curious: what this page hears right now.
  window.callcenterPhone = {
    level: function () { var e = call && call.connection && call.connection.ear(); return e ? e.level() : 0; },
    dominantHz: function () { var e = call && call.connection && call.connection.ear(); return e ? e.dominantHz() : 0; },
  };
  setState("idle", "Ready.");
})();
