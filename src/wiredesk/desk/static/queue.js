// The review queue, live: an article entering review is added (its entry fetched from the
// desk), one that leaves it (approved, rejected, failed, revised...) is taken off. The page's
// event stream starts where the page's database read did (data-events), so nothing is missed.
(function () {
  "use strict";
  var queue = document.getElementById("queue");
  var live = document.getElementById("live");
  var empty = document.getElementById("empty");
  if (!queue || !window.EventSource) { return; }
  var gone = {};  // left review while its entry was being fetched

  function entry(id) { return document.getElementById("article-" + id); }
  function show(state, text) { live.dataset.state = state; live.textContent = text; }
  function refresh() { empty.hidden = queue.children.length > 0; }

  function add(id) {
    delete gone[id];
    if (entry(id)) { return; }
    fetch(queue.dataset.items + encodeURIComponent(id), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        if (html && !entry(id) && !gone[id]) {
          queue.insertAdjacentHTML("beforeend", html);
          refresh();
        }
      });
  }

  function replace(id) {  // an editor changed its copy: the entry shows the new one
    var item = entry(id);
    if (!item) { return; }
    fetch(queue.dataset.items + encodeURIComponent(id), { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        var current = entry(id);
        if (html && current && !gone[id]) { current.outerHTML = html; }
      });
  }

  function remove(id) {
    gone[id] = true;
    var item = entry(id);
    if (item) { item.remove(); refresh(); }
  }

  var source = new EventSource(queue.dataset.events);
  source.onopen = function () { show("live", "(live)"); };
  source.onerror = function () {
    if (source.readyState === EventSource.CLOSED) {
      show("closed", "(not live: reload the page)");  // e.g. the session ended
    } else {
      show("reconnecting", "(reconnecting…)");
    }
  };
  source.addEventListener("article", function (event) {
    var data = JSON.parse(event.data);
    if (data.type === "article.pending_review") {
      add(data.article_id);
    } else if (data.type === "article.edited") {
      replace(data.article_id);
    } else {
      remove(data.article_id);
    }
  });
})();
