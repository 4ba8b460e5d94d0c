// The flow editor: CodeMirror 6 (vendored, window.CodeMirror) over the page's <textarea>.
// The textarea stays the form field, so saving is a plain form post; this script only
// makes it an editor and asks the API to validate as the admin types. Every problem is
// shown at its line (gutter marker, underline, tooltip with the hint) and in the list.
(function () {
  "use strict";

  var textarea = document.getElementById("flow-text");
  var CM = window.CodeMirror;
  if (!textarea || !CM) {
    return; // no editor on this page, or the bundle failed to load: the textarea still works
  }
  var list = document.getElementById("problems");
  var count = document.getElementById("problem-count");
  var status = document.getElementById("lint-status");
  var url = textarea.getAttribute("data-validate-url");
  var file = textarea.getAttribute("data-file") || "flow";
  var readOnly = textarea.hasAttribute("readonly");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text; // never innerHTML: flow text is user input
    return node;
  }

  // Line/column from the server (1-based) -> a document range covering the rest of the line.
  function range(doc, problem) {
    var lineNo = Math.min(Math.max(problem.line || 1, 1), doc.lines);
    var line = doc.line(lineNo);
    var from = Math.min(line.from + Math.max((problem.column || 1) - 1, 0), line.to);
    var to = line.to > from ? line.to : Math.min(from + 1, doc.length);
    return { from: from, to: Math.max(to, from) };
  }

  function showList(problems, view) {
    list.replaceChildren();
    problems.forEach(function (p) {
      var item = el("li", "problem");
      item.setAttribute("data-line", String(p.line));
      var where = "line " + p.line + ":" + p.column + (p.node ? " · " + p.node : "");
      item.appendChild(el("span", "where", where));
      item.appendChild(el("span", "what", p.message));
      if (p.hint) item.appendChild(el("span", "hint", p.hint));
      item.addEventListener("click", function () {
        var r = range(view.state.doc, p);
        view.dispatch({ selection: { anchor: r.from }, scrollIntoView: true });
        view.focus();
      });
      list.appendChild(item);
    });
    count.textContent = String(problems.length);
    count.classList.toggle("pill-error", problems.length > 0);
    count.classList.toggle("pill-ok", problems.length === 0);
    status.textContent = problems.length ? "Fix these before saving." : "No problems.";
  }

  function diagnostic(doc, p) {
    var r = range(doc, p);
    return {
      from: r.from,
      to: r.to,
      severity: "error",
      source: p.node || "flow",
      message: p.message + (p.hint ? " (hint: " + p.hint + ")" : ""),
      renderMessage: function () {
        var box = el("div", "lint-message");
        box.appendChild(el("div", "what", p.message));
        if (p.hint) box.appendChild(el("div", "hint", p.hint));
        return box;
      },
    };
  }

  var latest = 0;
  function validate(view) {
    var ticket = ++latest;
    var text = view.state.doc.toString();
    status.textContent = "Checking…";
    return window.callcenter
      .fetch(url, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ text: text, file: file }),
      })
      .then(function (response) {
        if (!response.ok) throw new Error("validation failed: HTTP " + response.status);
        return response.json();
      })
      .then(function (body) {
        if (ticket !== latest) return [];
        showList(body.problems, view);
        return body.problems.map(function (p) {
          return diagnostic(view.state.doc, p);
        });
      })
      .catch(function (error) {
        status.textContent = "Could not check: " + error.message;
        return [];
      });
  }

  // The editor lives in a shadow root: CodeMirror then styles it with a constructed
  // stylesheet instead of a <style> element, which the page's CSP (no inline style) forbids.
  var host = el("div", "flow-editor");
  textarea.parentNode.insertBefore(host, textarea);
  var shadow = host.attachShadow({ mode: "open" });
  var theme = CM.EditorView.theme({
    "&": { height: "100%", fontSize: "13px", backgroundColor: "#fff" },
    ".cm-scroller": { fontFamily: 'ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace' },
    ".cm-gutters": { backgroundColor: "#f7f8fb", borderRight: "1px solid #e2e5ee" },
    "&.cm-focused": { outline: "none" },
    ".lint-message .hint": { color: "#646b82", marginTop: "2px" },
    ".lint-message .hint::before": { content: '"Hint: "', fontWeight: "600" },
  });

  var view = new CM.EditorView({
    doc: textarea.value,
    root: shadow,
    parent: shadow,
    extensions: [
      theme,
      CM.basicSetup,
      CM.keymap.of([CM.indentWithTab]),
      CM.yaml(),
      CM.lintGutter(),
      CM.linter(validate, { delay: 400 }),
      CM.EditorState.tabSize.of(2),
      CM.EditorState.readOnly.of(readOnly),
      CM.EditorView.updateListener.of(function (update) {
        if (update.docChanged) textarea.value = update.state.doc.toString();
      }),
    ],
  });
  textarea.hidden = true;
  window.callcenter.flowEditor = view; // for tests and the browser console
})();
