// The supervisor console: presence, the live queue and offers by SSE, the connected call.
// The audio transport is the page's data-transport (webrtc in dev, livekit in production).
(function () {
  "use strict";
  var root = document.getElementById("console");
  if (!root) return;
  var transport = window.callcenterTransports[root.getAttribute("data-transport")];
  var presence = document.getElementById("presence");
  var offerPanel = document.getElementById("console-offer-panel");
  var offerBox = document.getElementById("console-offer");
  var callBox = document.getElementById("console-call");
  var current = null;  // {id, connection, events, stopMeter, muted}

  function post(path, body) {
    return window.callcenter.fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.detail || ("HTTP " + response.status));
        return data;
      });
    });
  }

  function showError(text) {
    var el = document.getElementById("call-error");
    if (el) el.textContent = text; else window.alert(text);
  }

  // ---- presence
  function showPresence(status) {
    presence.setAttribute("data-status", status);
    presence.querySelectorAll("[data-status]").forEach(function (b) {
      b.classList.toggle("btn-primary", b.getAttribute("data-status") === status);
    });
  }
  presence.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-status]");
    if (!button) return;
    post("/console/presence", { status: button.getAttribute("data-status") })
      .then(function (data) { showPresence(data.status); })
      .catch(function (e) { window.alert(e.message); });
  });
  showPresence(presence.getAttribute("data-status") || "away");

  // ---- the desk's stream: queue, live calls, offers
  var desk = new EventSource("/console/events");
  desk.addEventListener("queue", function (e) {
    document.getElementById("console-queue").innerHTML = e.data;
  });
  desk.addEventListener("calls", function (e) {
    document.getElementById("console-calls").innerHTML = e.data;
  });
  document.getElementById("console-calls").addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action=listen]");
    if (!button) return;
    if (current && !current.monitor) { window.alert("Finish your call first."); return; }
    if (current) leave("Stopped listening.");
    var id = button.getAttribute("data-call-id");
    post("/console/calls/" + encodeURIComponent(id) + "/listen")
      .then(function (data) { takeCall(data.call_id, data.panel, true); })
      .catch(function (e) { window.alert("Could not listen: " + e.message); });
  });
  desk.addEventListener("offer", function (e) {
    if (current) return;  // on a call already: routing gives capacity-1 desks none anyway
    offerBox.innerHTML = e.data;
    offerPanel.hidden = false;
  });

  offerBox.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    var offer = offerBox.querySelector(".offer");
    if (!button || !offer) return;
    var id = encodeURIComponent(offer.getAttribute("data-offer-id"));
    var action = button.getAttribute("data-action");
    offerPanel.hidden = true;
    offerBox.innerHTML = "";
    if (action === "decline") { post("/console/offers/" + id + "/decline"); return; }
    post("/console/offers/" + id + "/accept")
      .then(function (data) { takeCall(data.call_id, data.panel); })
      .catch(function (e) { window.alert("Could not take the call: " + e.message); });
  });

  // ---- the connected call
  var following = null;  // the last call's event stream, kept until the next call

  // monitor: listen silently (the server leaves us out of everyone's mix; our mic is off).
  function takeCall(callId, panel, monitor) {
    if (following) following.close();
    callBox.innerHTML = panel;
    current = { id: callId, muted: !!monitor, monitor: !!monitor };
    var base = "/console/calls/" + encodeURIComponent(callId);
    var stateEl = document.getElementById("call-state");
    var transcript = document.getElementById("call-transcript");
    var events = new EventSource(base + "/events");
    following = events;
    function line(e) {
      transcript.insertAdjacentHTML("beforeend", e.data);
      transcript.scrollTop = transcript.scrollHeight;
    }
    ["transcript", "keys", "joined", "left"].forEach(function (k) { events.addEventListener(k, line); });
    // A watched phrase or a mood drop: a line in the transcript, and the panel is flagged.
    events.addEventListener("alert", function (e) {
      line(e);
      var head = callBox.querySelector(".call-head");
      if (head && !head.querySelector(".pill-alert")) {
        head.insertAdjacentHTML("beforeend", '<span class="pill pill-alert" id="call-alert">&#9873; flagged</span>');
      }
    });
    events.addEventListener("brief", function (e) {
      document.getElementById("call-brief").innerHTML = e.data;
    });
    events.addEventListener("suggestion", function (e) {
      var list = document.getElementById("call-suggestions");
      var empty = list.querySelector(".empty");
      if (empty) empty.remove();
      list.insertAdjacentHTML("afterbegin", e.data);  // the newest on top
    });
    events.addEventListener("ended", function (e) {
      line(e);
      events.close();  // the transcript stays on screen; the stream has nothing more to say
      leave("Call ended.");
    });

    transport.connect({
      url: base + (monitor ? "/monitor" : "/join"), audio: document.getElementById("call-audio"),
      onState: function (s) { stateEl.textContent = monitor && s === "connected" ? "listening" : s; },
    }).then(function (connection) {
      if (!current || current.id !== callId) { connection.close(); return; }
      current.connection = connection;
      if (monitor) connection.setMuted(true);
      current.stopMeter = transport.meter(connection, document.getElementById("call-meter"));
    }).catch(function (e) { showError("Audio did not connect: " + e.message); });
  }

  function leave(text) {
    if (!current) return;
    if (current.stopMeter) current.stopMeter();
    if (current.connection) current.connection.close();
    // The call's stream stays open after a hand-back: the supervisor sees the AI finish.
    current = null;
    var stateEl = document.getElementById("call-state");
    if (stateEl) stateEl.textContent = text;
    callBox.querySelectorAll("button, input, select").forEach(function (el) { el.disabled = true; });
  }

  callBox.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button || !current) return;
    var action = button.getAttribute("data-action");
    if (action === "mute") {
      current.muted = !current.muted;
      if (current.connection) current.connection.setMuted(current.muted);
      button.textContent = current.muted ? "Unmute" : "Mute";
    } else if (action === "takeover") {
      var mid = current.id;
      post("/console/calls/" + encodeURIComponent(mid) + "/take")
        .then(function (data) {
          if (current && current.connection) current.connection.close();
          if (current && current.stopMeter) current.stopMeter();
          current = null;
          takeCall(data.call_id, data.panel, false);
        })
        .catch(function (e) { showError(e.message); });
    } else if (action === "stop") {
      leave("Stopped listening.");
    } else if (action === "end") {
      var id = current.id;
      post("/console/calls/" + encodeURIComponent(id) + "/end")
        .then(function () { leave("You ended the call."); })
        .catch(function (e) { showError(e.message); });
    }
  });

  callBox.addEventListener("submit", function (event) {
    var form = event.target;
    event.preventDefault();
    if (!current) return;
    var action = form.getAttribute("data-action");
    var base = "/console/calls/" + encodeURIComponent(current.id);
    if (action === "coach") {
      var input = form.querySelector("[name=text]");
      post(base + "/coach", { text: input.value })
        .then(function () { input.value = ""; showError(""); })
        .catch(function (e) { showError(e.message); });
    } else if (action === "handback") {
      var node = form.querySelector("[name=node]").value;
      post(base + "/handback", { node: node || null })
        .then(function () { leave("Handed back to the AI."); })
        .catch(function (e) { showError(e.message); });
    }
  });

  window.callcenterConsole = {
    level: function () { var e = current && current.connection && current.connection.ear(); return e ? e.level() : 0; },
    dominantHz: function () { var e = current && current.connection && current.connection.ear(); return e ? e.dominantHz() : 0; },
  };
})();
