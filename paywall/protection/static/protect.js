/*
 * paywall copy protection.
 *
 * Configured by the data-* attributes of its own <script> tag (no inline code,
 * so strict Content-Security-Policies keep working):
 *   data-mode       "block" | "attribute"
 *   data-scope      "article" | "page"
 *   data-message    the text shown when an attempt is blocked
 *   data-selector   CSS selector of the article (optional)
 *   data-min-words  attribution applies to copies of more words than this
 *   data-url        the address quoted by attribution (default: this page)
 *   data-mark       the reader's mark (hex), added invisibly to copies
 *   data-beacon     where to report a blocked attempt (a path on this site), for the
 *                   publisher's statistics: at most one report every ten seconds,
 *                   carrying only the page's address (its canonical link if any)
 *
 * Block mode prevents right-click, selection, dragging, copy, cut and the
 * Ctrl/Cmd + C, X, A, S, U, P shortcuts inside the protected region, and says
 * so in a polite status message. It never touches form fields, editable
 * content, links' context menus, keyboard navigation, Find, paste, or anything
 * outside the region, and never changes the page's text.
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.hasAttribute("data-paywall-protect")) {
    script = document.querySelector("script[data-paywall-protect]");
  }
  if (!script) {
    return;
  }

  function setting(name, fallback) {
    var value = script.getAttribute("data-" + name);
    return value === null || value === "" ? fallback : value;
  }

  var mode = setting("mode", "block");
  if (mode !== "block" && mode !== "attribute") {
    return;
  }
  var pageScope = setting("scope", "article") === "page";
  var message = setting("message", "This content is protected");
  var selector = setting("selector", "");
  var minWords = parseInt(setting("min-words", "20"), 10);
  if (!(minWords >= 0)) {
    minWords = 20;
  }
  var mark = setting("mark", "");
  if (!/^[0-9a-f]{2,600}$/.test(mark) || mark.length % 2 !== 0) {
    mark = "";
  }
  var beacon = setting("beacon", "");
  if (!/^\/[^\/\\]/.test(beacon)) {
    beacon = "";
  }
  var pageUrl = setting("url", "");
  if (!/^https?:\/\//i.test(pageUrl)) {
    pageUrl = String(location.href).split("#")[0];
  }

  /* ------------------------------------------------------------ region */
  var region = null;

  function findRegion() {
    if (pageScope) {
      return document.body;
    }
    var found = document.querySelector("[data-paywall-article]");
    if (!found && selector) {
      try {
        found = document.querySelector(selector);
      } catch (err) {
        found = null;
      }
    }
    if (!found) {
      found = document.querySelector("[itemprop=articleBody]");
    }
    if (!found) {
      var articles = document.getElementsByTagName("article");
      var longest = 0;
      for (var i = 0; i < articles.length; i++) {
        var length = (articles[i].textContent || "").length;
        if (length > longest) {
          longest = length;
          found = articles[i];
        }
      }
    }
    return found;
  }

  function currentRegion() {
    if (!region || !region.isConnected) {
      region = findRegion();
      if (region) {
        // Attributes only: the text is never altered. The stylesheet keys on them.
        region.setAttribute("data-paywall-protected", mode);
        region.setAttribute("data-paywall-message", message);
      }
    }
    return region;
  }

  function elementOf(node) {
    if (!node) {
      return null;
    }
    return node.nodeType === 1 ? node : node.parentElement;
  }

  function inRegion(node) {
    var r = currentRegion();
    var el = elementOf(node);
    return !!(r && el && r.contains(el));
  }

  function isEditable(node) {
    var el = elementOf(node);
    if (!el) {
      return false;
    }
    if (el.isContentEditable) {
      return true;
    }
    return !!el.closest("input, textarea, select, [contenteditable]:not([contenteditable=false])");
  }

  function selectionTouchesRegion() {
    var r = currentRegion();
    var sel = window.getSelection ? window.getSelection() : null;
    if (!r || !sel || sel.rangeCount === 0 || sel.isCollapsed) {
      return false;
    }
    for (var i = 0; i < sel.rangeCount; i++) {
      if (sel.getRangeAt(i).intersectsNode(r)) {
        return true;
      }
    }
    return false;
  }

  function inField(event) {
    return isEditable(event.target) || isEditable(document.activeElement);
  }

  /* ------------------------------------------------------------- toast */
  var toast = null;
  var hideTimer = 0;
  var clearTimer = 0;

  function ensureToast() {
    if (!toast || !toast.isConnected) {
      // A live region must exist before its text changes to be announced.
      toast = document.createElement("div");
      toast.className = "paywall-toast";
      toast.setAttribute("role", "status");
      toast.setAttribute("aria-live", "polite");
      toast.setAttribute("aria-atomic", "true");
      toast.setAttribute("data-paywall-toast", "");
      document.body.appendChild(toast);
    }
    return toast;
  }

  var lastReport = 0;

  function report() {
    var now = Date.now();
    if (!beacon || !navigator.sendBeacon || now - lastReport < 10000) {
      return;
    }
    lastReport = now;
    var canonical = document.querySelector("link[rel~=canonical][href]");
    var page = canonical ? canonical.href : String(location.href).split("#")[0];
    try {
      navigator.sendBeacon(beacon, page);
    } catch (err) {
      // a policy that forbids it: the statistics go without this one
    }
  }

  function notify() {
    report();
    var t = ensureToast();
    clearTimeout(hideTimer);
    clearTimeout(clearTimer);
    if (t.textContent !== message) {
      t.textContent = message;
    }
    t.classList.add("paywall-toast--visible");
    hideTimer = setTimeout(function () {
      t.classList.remove("paywall-toast--visible");
      clearTimer = setTimeout(function () {
        t.textContent = "";
      }, 400);
    }, 3000);
  }

  /* -------------------------------------------------------- block mode */
  var SHORTCUTS = { c: true, x: true, a: true, s: true, u: true, p: true };
  var press = null;
  var lastDownInRegion = false;

  function shortcutLetter(event) {
    if (!(event.ctrlKey || event.metaKey) || event.altKey) {
      return "";
    }
    var key = String(event.key || "").toLowerCase();
    if (key.length === 1 && key >= "a" && key <= "z") {
      return key;
    }
    var code = /^Key([A-Z])$/.exec(String(event.code || ""));
    return code ? code[1].toLowerCase() : "";
  }

  function onKeyDown(event) {
    var letter = shortcutLetter(event);
    if (!SHORTCUTS[letter] || inField(event) || !currentRegion()) {
      return;
    }
    var active = document.activeElement;
    var onBody = !active || active === document.body || active === document.documentElement;
    var inside =
      inRegion(active) || inRegion(event.target) || selectionTouchesRegion() || (onBody && lastDownInRegion);
    // Copy and cut of a selection outside the region stay free; the others act on the whole page.
    var block = letter === "c" || letter === "x" ? inside : inside || onBody;
    if (block) {
      event.preventDefault();
      notify();
    }
  }

  function onContextMenu(event) {
    var el = elementOf(event.target);
    if (!inRegion(el) || isEditable(el) || el.closest("a[href], area[href]")) {
      return; // links keep their native menu (open in new tab, copy link)
    }
    event.preventDefault();
    notify();
  }

  function onCopyOrCut(event) {
    if (inField(event)) {
      return;
    }
    if (inRegion(event.target) || selectionTouchesRegion()) {
      event.preventDefault();
      notify();
    }
  }

  function onSelectStart(event) {
    if (inRegion(event.target) && !isEditable(event.target)) {
      event.preventDefault();
    }
  }

  function onDragStart(event) {
    var el = elementOf(event.target);
    if (!inRegion(el) || isEditable(el) || el.matches("a[href]")) {
      return; // a link dragged to the tab bar is navigation
    }
    event.preventDefault();
    notify();
  }

  function onMouseDown(event) {
    press = null;
    var el = elementOf(event.target);
    lastDownInRegion = inRegion(el) && !isEditable(el);
    if (event.button !== 0 || !inRegion(el) || isEditable(el)) {
      return;
    }
    if (el.closest("a[href], button, label, summary")) {
      return;
    }
    if (event.detail >= 2) {
      notify(); // double or triple click: an attempt to select a word or paragraph
      return;
    }
    press = { x: event.clientX, y: event.clientY };
  }

  function onMouseMove(event) {
    if (!press) {
      return;
    }
    if (!(event.buttons & 1)) {
      press = null;
    } else if (Math.abs(event.clientX - press.x) + Math.abs(event.clientY - press.y) > 12) {
      press = null;
      notify(); // dragging across the text: an attempt to select it
    }
  }

  function onMouseUp() {
    press = null;
  }

  /* -------------------------------------------------- attribution mode */
  // JavaScript's \s, spelt out so that the server's decoder counts words alike.
  var SPACE = /[\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff]/;
  var SYMBOLS = ["\u200b", "\u200c", "\u200d", "\u2060"];
  var EVERY_WORDS = 10;
  var carrier = "";
  if (mark) {
    carrier = "\u2063";
    for (var m = 0; m < mark.length; m++) {
      var value = parseInt(mark.charAt(m), 16);
      carrier += SYMBOLS[value >> 2] + SYMBOLS[value & 3];
    }
  }

  function embed(text, state) {
    var out = "";
    for (var i = 0; i < text.length; i++) {
      var ch = text.charAt(i);
      var space = SPACE.test(ch);
      if (!space && state.afterSpace) {
        if (state.words % EVERY_WORDS === 0) {
          out += carrier;
        }
        state.words += 1;
      }
      out += ch;
      state.afterSpace = space;
    }
    return out;
  }

  function embedInNodes(root) {
    var state = { words: 0, afterSpace: true };
    var walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    var nodes = [];
    while (walker.nextNode()) {
      nodes.push(walker.currentNode);
    }
    for (var i = 0; i < nodes.length; i++) {
      nodes[i].data = embed(nodes[i].data, state);
    }
  }

  function countWords(text) {
    var words = text.match(/\S+/g);
    return words ? words.length : 0;
  }

  function onCopyAttribute(event) {
    if (!event.clipboardData || inField(event) || !selectionTouchesRegion()) {
      return;
    }
    var sel = window.getSelection();
    var text = sel.toString();
    var attribute = countWords(text) > minWords;
    if (!attribute && !carrier) {
      return; // a short quotation is left alone
    }
    var fragment = document.createElement("div");
    for (var i = 0; i < sel.rangeCount; i++) {
      fragment.appendChild(sel.getRangeAt(i).cloneContents());
    }
    var plain = text;
    if (carrier) {
      plain = embed(text, { words: 0, afterSpace: true });
      embedInNodes(fragment);
    }
    if (attribute) {
      plain += "\n\nRead more at " + pageUrl;
      var para = document.createElement("p");
      var link = document.createElement("a");
      link.setAttribute("href", pageUrl);
      link.textContent = pageUrl;
      para.appendChild(document.createTextNode("Read more at "));
      para.appendChild(link);
      fragment.appendChild(para);
    }
    event.clipboardData.setData("text/plain", plain);
    event.clipboardData.setData("text/html", fragment.innerHTML);
    event.preventDefault();
  }

  /* -------------------------------------------------------------- start */
  function start() {
    currentRegion();
    var capture = { capture: true };
    if (mode === "block") {
      ensureToast();
      window.addEventListener("keydown", onKeyDown, capture);
      window.addEventListener("contextmenu", onContextMenu, capture);
      window.addEventListener("copy", onCopyOrCut, capture);
      window.addEventListener("cut", onCopyOrCut, capture);
      window.addEventListener("selectstart", onSelectStart, capture);
      window.addEventListener("dragstart", onDragStart, capture);
      window.addEventListener("mousedown", onMouseDown, { capture: true, passive: true });
      window.addEventListener("mousemove", onMouseMove, { capture: true, passive: true });
      window.addEventListener("mouseup", onMouseUp, { capture: true, passive: true });
    } else {
      window.addEventListener("copy", onCopyAttribute, capture);
    }
  }

  if (document.body) {
    start();
  } else {
    document.addEventListener("DOMContentLoaded", start);
  }
})();
