// buildbot.js: live updates for the server-rendered pages. The pages are complete without
// it; with it, logs follow new lines (SSE stream /sse/logs/<id>/*, polling every second when that
// fails) and build lists and running build pages refresh themselves by polling.
(function () {
  "use strict";

  // Listens to the SSE stream of routing-key `pattern`; `names` are the concrete event
  // names (routing keys) to react to, since EventSource has no wildcard listener. Calls
  // `onFail` (once) when the stream cannot be used; the caller then polls.
  function subscribe(pattern, names, onEvent, onFail) {
    if (!window.EventSource) { onFail(); return; }
    var failed = false;
    var es = new EventSource("/sse/" + pattern);
    es.onmessage = function () { onEvent(); };
    names.forEach(function (n) { es.addEventListener(n, function () { onEvent(); }); });
    es.onerror = function () {
      if (!failed) { failed = true; es.close(); onFail(); }
    };
  }

  function getJSON(url) {
    return fetch(url, { headers: { "Accept": "application/json" }, cache: "no-store" })
      .then(function (r) { if (!r.ok) { throw new Error(url + ": " + r.status); } return r.json(); });
  }

  // ---- log following ---------------------------------------------------------------------
  function follow(pre) {
    var id = pre.getAttribute("data-log-follow");
    var stdio = pre.getAttribute("data-type") === "s";
    var next = parseInt(pre.getAttribute("data-next") || "0", 10);
    var done = pre.hasAttribute("data-complete");
    var busy = false, again = false, timer = null;
    var count = document.getElementById("log-count");
    var state = document.getElementById("log-state");
    var big = pre.classList.contains("big");
    // the panel follows the end until the user scrolls up in it
    var userUp = false;
    function toEnd() {
      if (!big) { pre.scrollTop = pre.scrollHeight; }
      else if (!done) { window.scrollTo(0, document.body.scrollHeight); }
    }
    pre.addEventListener("scroll", function () {
      userUp = pre.scrollTop + pre.clientHeight < pre.scrollHeight - 8;
    });
    toEnd();
    window.addEventListener("load", toEnd);
    if (done) { return; }

    function atBottom() {
      if (!big) { return !userUp; }
      return window.innerHeight + window.scrollY >= document.body.scrollHeight - 8;
    }
    function append(text) {
      var stick = atBottom();
      var frag = document.createDocumentFragment();
      var lines = text.split("\n");
      if (lines.length && lines[lines.length - 1] === "") { lines.pop(); }
      lines.forEach(function (l) {
        var span = document.createElement("span");
        var cls = "o";
        if (stdio && l.length) { cls = l.charAt(0); l = l.substring(1); }
        span.className = cls;
        span.textContent = l + "\n";
        frag.appendChild(span);
      });
      pre.appendChild(frag);
      next += lines.length;
      pre.setAttribute("data-next", String(next));
      if (stick) {
        if (big) { window.scrollTo(0, document.body.scrollHeight); }
        else { pre.scrollTop = pre.scrollHeight; }
      }
    }
    function update() {
      if (done) { return; }
      if (busy) { again = true; return; }
      busy = true;
      getJSON("/api/v2/logs/" + id).then(function (v) {
        var log = v.logs && v.logs[0];
        if (!log) { return null; }
        if (count) { count.textContent = String(log.num_lines); }
        if (log.num_lines > next) {
          var n = Math.min(log.num_lines - next, 5000);
          return getJSON("/api/v2/logs/" + id + "/contents?offset=" + next + "&limit=" + n)
            .then(function (c) {
              var chunk = c.logchunks && c.logchunks[0];
              if (chunk && chunk.firstline === next) { append(chunk.content); }
              if (log.num_lines > next) { again = true; }
              return log;
            });
        }
        return log;
      }).then(function (log) {
        if (log && log.complete && next >= log.num_lines) {
          done = true;
          pre.setAttribute("data-complete", "1");
          if (state) { state.textContent = "complete"; }
          if (timer) { clearInterval(timer); }
        }
      }).catch(function () {}).then(function () {
        busy = false;
        if (again && !done) { again = false; update(); }
      });
    }
    var slow = 5000;
    subscribe("logs/" + id + "/*", ["logs/" + id + "/append", "logs/" + id + "/finished"], update, function () {
      if (timer) { clearInterval(timer); }
      timer = setInterval(update, 1000);
    });
    timer = setInterval(update, slow);
    update();
  }

  // ---- page refresh ----------------------------------------------------------------------
  function refresher() {
    var parts = document.querySelectorAll("[data-live-refresh]");
    if (!parts.length) { return; }
    var buildLive = document.getElementById("build-live");
    var running = !buildLive || buildLive.hasAttribute("data-running");
    if (!running) { return; }
    var busy = false, timer = null;
    function refresh() {
      if (busy || document.hidden) { return; }
      busy = true;
      fetch(location.href, { cache: "no-store" }).then(function (r) { return r.text(); })
        .then(function (text) {
          var doc = new DOMParser().parseFromString(text, "text/html");
          var fresh = doc.querySelectorAll("[data-live-refresh]");
          var cur = document.querySelectorAll("[data-live-refresh]");
          for (var i = 0; i < cur.length && i < fresh.length; i++) {
            cur[i].innerHTML = fresh[i].innerHTML;
            if (fresh[i].hasAttribute("data-running")) { cur[i].setAttribute("data-running", "1"); }
            else { cur[i].removeAttribute("data-running"); }
          }
          var newLog = doc.getElementById("livelog");
          var oldLog = document.getElementById("livelog");
          if (newLog && (!oldLog || oldLog.getAttribute("data-logid") !== newLog.getAttribute("data-logid"))) {
            var node = document.importNode(newLog, true);
            if (oldLog) { oldLog.parentNode.replaceChild(node, oldLog); }
            else if (buildLive) { buildLive.parentNode.insertBefore(node, buildLive.nextSibling); }
            var p = node.querySelector("pre[data-log-follow]");
            if (p) { follow(p); }
          }
          if (buildLive && !buildLive.hasAttribute("data-running") && timer) {
            clearInterval(timer); timer = null;
          }
        }).catch(function () {}).then(function () { busy = false; });
    }
    var period = buildLive ? 2000 : 5000;
    timer = setInterval(refresh, period);
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("pre[data-log-follow]"), follow);
    refresher();
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
