// Try it: a text conversation with the open flow version, over /api/v1/flows/{name}/try.
// The server runs the flow (the same interpreter as a call); this only shows what it says,
// the node (also marked on the diagram), the slots and the outcome. Everything from the
// server is put in the page as text (textContent), never as HTML: flows are user input.
(function () {
  "use strict";

  var panel = document.getElementById("try-it");
  if (!panel || !window.callcenter) return;
  var startUrl = panel.getAttribute("data-start-url");
  var version = Number(panel.getAttribute("data-version"));
  var $ = function (id) { return document.getElementById(id); };
  var transcript = $("try-transcript"), form = $("try-form"), input = $("try-text");
  var send = $("try-send"), restart = $("try-restart"), start = $("try-start");
  var errorBox = $("try-error");
  var session = null, busy = false;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function line(kind, text) {
    var item = el("li", "msg msg-" + kind);
    if (kind === "agent" || kind === "caller") item.appendChild(el("span", "who", kind));
    item.appendChild(document.createTextNode(text));
    transcript.appendChild(item);
    item.scrollIntoView({ block: "nearest" });
  }

  function shownCallerLine(text) {
    if (text === "") return "[silence]";
    if (/^[0-9*#]+$/.test(text.trim())) return "[keys " + text.trim() + "]";
    return text;
  }

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function markNode(node) {
    document.querySelectorAll("#flow-diagram g.node.node-current").forEach(function (g) {
      g.classList.remove("node-current");
    });
    if (!node) return;
    document.querySelectorAll("#flow-diagram g.node").forEach(function (g) {
      if (g.getAttribute("data-node") === node) g.classList.add("node-current");
    });
  }

  function showSlots(slots) {
    var body = $("try-slots").querySelector("tbody");
    body.replaceChildren();
    var names = Object.keys(slots);
    if (!names.length) {
      var empty = el("tr", "empty-row");
      var cell = el("td", "", "none yet");
      cell.colSpan = 2;
      empty.appendChild(cell);
      body.appendChild(empty);
    }
    names.forEach(function (name) {
      var row = el("tr");
      row.setAttribute("data-slot", name);
      row.appendChild(el("td", "", name));
      row.appendChild(el("td", "", JSON.stringify(slots[name])));
      body.appendChild(row);
    });
  }

  function show(reply) {
    reply.lines.forEach(function (l) { line(l[0] === "agent" ? "agent" : "note", l[1]); });
    $("try-node").textContent = reply.node || "–";
    $("try-waiting").textContent = reply.ended ? "–" : (reply.waiting_for || "–");
    $("try-path").textContent = reply.path.join(" → ") || "–";
    showSlots(reply.slots);
    markNode(reply.ended ? null : reply.node);
    if (reply.ended) {
      var outcome = reply.outcome || "ended";
      if (reply.reason && reply.reason !== reply.outcome) outcome += " (" + reply.reason + ")";
      $("try-outcome").textContent = outcome;
      line("end", "Call ended: " + outcome + ". Restart for a new call.");
      session = null;
    } else {
      $("try-outcome").textContent = "–";
    }
    setIdle();
  }

  function setIdle() {
    busy = false;
    input.disabled = send.disabled = session === null;
    restart.disabled = false;
    start.disabled = false;
    if (session !== null) input.focus();
  }

  function request(url, method, body) {
    busy = true;
    send.disabled = restart.disabled = start.disabled = true;
    showError("");
    return window.callcenter
      .fetch(url, {
        method: method,
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
      .then(function (response) {
        if (response.status === 204) return null;
        return response.json().then(function (data) {
          if (!response.ok) throw new Error(data.detail || "HTTP " + response.status);
          return data;
        });
      });
  }

  function fail(error) {
    showError(error.message);
    if (/no such try-it/.test(error.message)) session = null;
    setIdle();
  }

  function begin() {
    var old = session;
    session = null;
    var ending = old ? request(startUrl + "/" + encodeURIComponent(old), "DELETE")
      .catch(function () { return null; }) : Promise.resolve(null);
    ending.then(function () {
      transcript.replaceChildren();
      $("try-outcome").textContent = "–";
      var body = { version: version, escalation: $("try-escalation").value };
      var at = $("try-at").value;
      if (at) body.at = at + (at.length === 16 ? ":00" : "") + "Z";
      return request(startUrl, "POST", body);
    }).then(function (reply) {
      session = reply.session;
      line("note", "v" + reply.version + ": a new call.");
      show(reply);
    }).catch(fail);
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (busy || session === null) return;
    var text = input.value;
    input.value = "";
    line("caller", shownCallerLine(text));
    request(startUrl + "/" + encodeURIComponent(session) + "/say", "POST", { text: text })
      .then(show).catch(fail);
  });
  start.addEventListener("click", begin);
  restart.addEventListener("click", begin);
})();
