// dazi: the "Try it" box of model pages. It calls the hub's OpenAI-compatible API (/v1) as the
// logged-in user: the session cookie plus the page's CSRF token in X-CSRF-Token (the only way a web
// session authenticates /v1). The box says what to call in data attributes:
//   data-tryit    chat | completion | similarity
//   data-model    the `model` of the requests (a repo id, or a deployment's name)
//   data-endpoint /v1/chat/completions | /v1/completions | /v1/embeddings
//   data-csrf     the page's CSRF token
// Chat and completion answers are streamed (server-sent events read from fetch's ReadableStream);
// Stop aborts the fetch, which ends the generation on the server. Errors have the OpenAI shape
// {"error": {"message": ...}} (429 quota, 400 context length...) and are shown with their message.
(function () {
  "use strict";

  function text(box, key) { return box.getAttribute("data-text-" + key) || ""; }

  function call(box, body, signal) {
    return fetch(box.getAttribute("data-endpoint"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": box.getAttribute("data-csrf") },
      body: JSON.stringify(body),
      signal: signal
    });
  }

  // The message of an error answer (OpenAI shape), or a generic one with the status.
  function failure(box, response) {
    var generic = text(box, "failed").replace("{status}", String(response.status));
    return response.text().then(function (raw) {
      try {
        var parsed = JSON.parse(raw);
        if (parsed && parsed.error && parsed.error.message) { return generic + " — " + parsed.error.message; }
      } catch (ignored) { /* not JSON */ }
      return generic;
    }, function () { return generic; });
  }

  function showError(box, message) {
    var error = box.querySelector("[data-error]");
    error.textContent = message;
    error.hidden = !message;
  }

  // Reads "data: ..." lines until [DONE]; onChunk gets each parsed JSON chunk.
  function readEvents(response, onChunk) {
    var reader = response.body.getReader(), decoder = new TextDecoder(), buffer = "";
    function handle(line) {
      if (line.indexOf("data:") !== 0) { return false; }
      var data = line.slice(5).trim();
      if (data === "[DONE]") { return true; }
      onChunk(JSON.parse(data));
      return false;
    }
    function pump() {
      return reader.read().then(function (result) {
        buffer += decoder.decode(result.value || new Uint8Array(0), { stream: !result.done });
        var lines = buffer.split("\n");
        buffer = lines.pop();
        for (var i = 0; i < lines.length; i += 1) {
          if (handle(lines[i].replace(/\r$/, ""))) { reader.cancel().catch(function () {}); return; }
        }
        if (result.done) { if (buffer) { handle(buffer); } return; }
        return pump();
      });
    }
    return pump();
  }

  function numberField(form, name) {
    var field = form.querySelector("[name=" + name + "]");
    if (!field || field.value === "") { return null; }
    var value = Number(field.value);
    return isNaN(value) ? null : value;
  }

  function addMessage(log, who, cls, content) {
    var item = document.createElement("li");
    item.className = "msg " + cls;
    var label = document.createElement("span");
    label.className = "who";
    label.textContent = who;
    var body = document.createElement("div");
    body.className = "content";
    body.textContent = content;
    item.appendChild(label);
    item.appendChild(body);
    log.appendChild(item);
    return body;
  }

  function enableGeneration(box) {
    var chat = box.getAttribute("data-tryit") === "chat";
    var form = box.querySelector("[data-form]"), log = box.querySelector("[data-log]");
    var input = form.querySelector("[name=message]");
    var send = form.querySelector("[data-send]"), stop = form.querySelector("[data-stop]");
    var history = [], controller = null;

    function busy(on) {
      send.disabled = on;
      stop.hidden = !on;
      box.classList.toggle("busy", on);
      if (!on) { box.setAttribute("data-state", "done"); }
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var message = input.value;
      if (!message.trim() || controller) { return; }
      showError(box, "");
      var body = { model: box.getAttribute("data-model"), stream: true };
      var maxTokens = numberField(form, "max_tokens"), temperature = numberField(form, "temperature");
      if (maxTokens !== null) { body.max_tokens = maxTokens; }
      if (temperature !== null) { body.temperature = temperature; }
      var turn = history.concat([{ role: "user", content: message }]);
      if (chat) { body.messages = turn; } else { body.prompt = message; }
      var asked = addMessage(log, text(box, "you"), "user", message);
      var answer = addMessage(log, text(box, "model"), "assistant", "");
      var produced = "";
      controller = new AbortController();
      box.setAttribute("data-state", "streaming");
      busy(true);
      call(box, body, controller.signal).then(function (response) {
        if (!response.ok) { return failure(box, response).then(function (m) { throw new Error(m); }); }
        input.value = "";
        return readEvents(response, function (chunk) {
          if (chunk.error) { throw new Error(chunk.error.message || text(box, "network")); }
          var choice = chunk.choices && chunk.choices[0];
          var piece = choice ? (chat ? (choice.delta && choice.delta.content) : choice.text) : "";
          if (piece) { produced += piece; answer.textContent = produced; }
        });
      }).then(function () {
        if (chat) { history = turn.concat([{ role: "assistant", content: produced }]); }
      }, function (error) {
        if (error && error.name === "AbortError") {
          answer.textContent = produced + " " + text(box, "stopped");
          if (chat && produced) { history = turn.concat([{ role: "assistant", content: produced }]); }
          return;
        }
        if (produced) {
          answer.parentNode.classList.add("failed");
        } else {  // nothing happened: the message stays in the textarea, to send again
          log.removeChild(asked.parentNode);
          log.removeChild(answer.parentNode);
        }
        showError(box, error && error.message && error.name !== "TypeError" ? error.message : text(box, "network"));
      }).then(function () {
        controller = null;
        busy(false);
      });
    });

    stop.addEventListener("click", function () { if (controller) { controller.abort(); } });
    box.querySelector("[data-clear]").addEventListener("click", function () {
      if (controller) { controller.abort(); }
      history = [];
      log.textContent = "";
      showError(box, "");
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) { event.preventDefault(); form.requestSubmit(); }
    });
  }

  function cosine(a, b) {
    var dot = 0, na = 0, nb = 0;
    for (var i = 0; i < a.length; i += 1) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
    return na && nb ? dot / Math.sqrt(na * nb) : 0;
  }

  function enableSimilarity(box) {
    var form = box.querySelector("[data-form]"), results = box.querySelector("[data-results]");
    var send = form.querySelector("[data-send]");
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var source = form.querySelector("[name=source]").value.trim();
      var others = form.querySelector("[name=others]").value.split("\n").map(function (s) { return s.trim(); })
        .filter(function (s) { return s; });
      showError(box, "");
      if (!source || !others.length) { showError(box, text(box, "empty")); return; }
      send.disabled = true;
      box.setAttribute("data-state", "computing");
      var body = { model: box.getAttribute("data-model"), input: [source].concat(others) };
      call(box, body).then(function (response) {
        if (!response.ok) { return failure(box, response).then(function (m) { throw new Error(m); }); }
        return response.json();
      }).then(function (answer) {
        var vectors = answer.data.slice().sort(function (a, b) { return a.index - b.index; })
          .map(function (d) { return d.embedding; });
        var scored = others.map(function (sentence, i) { return [sentence, cosine(vectors[0], vectors[i + 1])]; });
        scored.sort(function (a, b) { return b[1] - a[1]; });
        results.textContent = "";
        scored.forEach(function (pair) {
          var item = document.createElement("li");
          var label = document.createElement("span");
          label.className = "sentence";
          label.textContent = pair[0];
          var bar = document.createElement("meter");
          bar.min = 0;
          bar.max = 1;
          bar.value = Math.max(0, pair[1]);
          var score = document.createElement("span");
          score.className = "score";
          score.textContent = pair[1].toFixed(3);
          item.appendChild(label);
          item.appendChild(bar);
          item.appendChild(score);
          results.appendChild(item);
        });
      }).catch(function (error) {
        showError(box, error && error.message && error.name !== "TypeError" ? error.message : text(box, "network"));
      }).then(function () {
        send.disabled = false;
        box.setAttribute("data-state", "done");
      });
    });
  }

  function enable(box) {
    var form = box.querySelector("[data-form]"), note = box.querySelector("[data-nojs]");
    if (!form) { return; }
    form.hidden = false;
    if (note) { note.hidden = true; }
    if (box.getAttribute("data-tryit") === "similarity") { enableSimilarity(box); } else { enableGeneration(box); }
  }

  function start() { Array.prototype.forEach.call(document.querySelectorAll("[data-tryit]"), enable); }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
