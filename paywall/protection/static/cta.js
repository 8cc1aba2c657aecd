/*
 * paywall call to action: kept on the page when the site's own script renders the story again.
 *
 * A single-page application's router, or a framework whose hydration found the
 * page unlike the state it renders from, replaces the markup the server sent
 * with what it renders from the page's state (shortened to the teaser by the
 * paywall): the call to action goes with it. This puts it back, as it was
 * served, after the block that came before it (found again by its tag and
 * text), or at the end of the article or main element when that block is gone.
 * It changes nothing else, and stops after a few restores, so that it never
 * fights a script that keeps removing it.
 */
(function () {
  "use strict";

  var MAX_RESTORES = 20;

  function start() {
    var served = document.querySelector("[data-paywall-cta]");
    if (!served || typeof MutationObserver === "undefined") {
      return;
    }
    var copy = served.cloneNode(true);
    var before = served.previousElementSibling;
    var beforeTag = before ? before.tagName : "";
    var beforeText = before ? before.textContent.trim() : "";
    var current = served;
    var restores = 0;

    function placeAfter() {
      if (!beforeText) {
        return null;
      }
      var candidates = document.getElementsByTagName(beforeTag);
      for (var i = candidates.length - 1; i >= 0; i--) {
        if (candidates[i].textContent.trim() === beforeText) {
          return candidates[i];
        }
      }
      return null;
    }

    function restore() {
      if (current.isConnected || restores >= MAX_RESTORES) {
        return;
      }
      if (document.querySelector("[data-paywall-cta]")) {
        current = document.querySelector("[data-paywall-cta]");
        return;
      }
      var node = copy.cloneNode(true);
      var after = placeAfter();
      if (after && after.parentNode) {
        after.parentNode.insertBefore(node, after.nextSibling);
      } else {
        var holder = document.querySelector("[data-paywall-article], article, main") || document.body;
        if (!holder) {
          return;
        }
        holder.appendChild(node);
      }
      current = node;
      restores += 1;
    }

    new MutationObserver(restore).observe(document.documentElement, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
