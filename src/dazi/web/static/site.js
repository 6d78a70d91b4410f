// dazi: progressive enhancement only. Every page works and reads without this file.
// 1. "Copy" buttons (hidden until this script runs) copy their data-copy text.
// 2. The "use this model" snippets become tabs.
(function () {
  "use strict";

  function enableCopy(button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = button.getAttribute("data-copy") || "";
      var done = function () {
        var label = button.textContent;
        button.textContent = "✓";
        setTimeout(function () { button.textContent = label; }, 1200);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, function () {});
      }
    });
  }

  function makeTabs(box) {
    var panels = Array.prototype.slice.call(box.querySelectorAll(".snippet"));
    if (panels.length < 2) { return; }
    var bar = document.createElement("div");
    bar.className = "tab-buttons";
    bar.setAttribute("role", "tablist");
    panels.forEach(function (panel, index) {
      var heading = panel.querySelector("h3");
      var button = document.createElement("button");
      button.type = "button";
      button.setAttribute("role", "tab");
      button.textContent = heading ? heading.textContent : String(index + 1);
      button.addEventListener("click", function () { show(index); });
      bar.appendChild(button);
      if (heading) { heading.classList.add("visually-hidden"); }
    });
    function show(active) {
      panels.forEach(function (panel, index) { panel.classList.toggle("shown", index === active); });
      Array.prototype.forEach.call(bar.children, function (button, index) {
        button.setAttribute("aria-selected", index === active ? "true" : "false");
      });
    }
    box.insertBefore(bar, box.firstChild);
    box.classList.add("js-tabs");
    show(0);
  }


  /* Upload: drag and drop (files and folders) and a progress bar; without JavaScript the form posts as is. */
  function readEntry(entry, prefix, out) {
    return new Promise(function (resolve) {
      if (entry.isFile) {
        entry.file(function (file) { out.push([prefix + file.name, file]); resolve(); }, function () { resolve(); });
      } else if (entry.isDirectory) {
        var reader = entry.createReader(), all = [];
        (function next() {
          reader.readEntries(function (batch) {
            if (!batch.length) {
              Promise.all(all.map(function (e) { return readEntry(e, prefix + entry.name + "/", out); })).then(resolve);
            } else { all = all.concat(Array.prototype.slice.call(batch)); next(); }
          }, function () { resolve(); });
        })();
      } else { resolve(); }
    });
  }

  function enableUpload(form) {
    var zone = form.querySelector("[data-dropzone]"), list = form.querySelector("[data-chosen]");
    var bar = form.querySelector("[data-progress]"), error = form.querySelector("[data-upload-error]");
    var dropped = [];
    function show() {
      list.textContent = "";
      var picked = dropped.slice();
      Array.prototype.forEach.call(form.querySelectorAll("input[type=file]"), function (input) {
        Array.prototype.forEach.call(input.files, function (f) { picked.push([f.webkitRelativePath || f.name, f]); });
      });
      picked.forEach(function (item) {
        var li = document.createElement("li");
        li.textContent = item[0] + " (" + item[1].size + " B)";
        list.appendChild(li);
      });
      return picked;
    }
    form.addEventListener("change", show);
    zone.addEventListener("dragover", function (event) { event.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("over");
      var items = Array.prototype.slice.call(event.dataTransfer.items || []), out = [];
      var entries = items.map(function (i) { return i.webkitGetAsEntry && i.webkitGetAsEntry(); });
      Promise.all(entries.filter(Boolean).map(function (e) { return readEntry(e, "", out); })).then(function () {
        dropped = dropped.concat(out);
        show();
      });
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = new FormData();
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && el.type !== "file" && el.type !== "submit") { data.append(el.name, el.value); }
      });
      show().forEach(function (item) { data.append("files", item[1], item[0]); });
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      bar.hidden = false;
      error.hidden = true;
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); }
      });
      xhr.addEventListener("load", function () {
        if (xhr.status < 400) { window.location.href = xhr.responseURL; } else { error.hidden = false; }
      });
      xhr.addEventListener("error", function () { error.hidden = false; });
      xhr.send(data);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("button.copy[data-copy]"), enableCopy);
    Array.prototype.forEach.call(document.querySelectorAll("[data-tabs]"), makeTabs);
    Array.prototype.forEach.call(document.querySelectorAll("form[data-upload]"), enableUpload);
  });
})();
