// Tozalash: the little script the pages need besides htmx. No inline
// scripts anywhere (the CSP forbids them), so it lives here.
(function () {
  'use strict';

  // A failed htmx request shows the server's error fragment as a toast.
  function toast(html) {
    var box = document.getElementById('toast');
    if (!box) return;
    box.innerHTML = html;
    box.classList.remove('pointer-events-none');
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.innerHTML = ''; box.classList.add('pointer-events-none'); }, 6000);
  }

  document.addEventListener('htmx:responseError', function (e) {
    var xhr = e.detail.xhr;
    if (xhr && xhr.getResponseHeader('HX-Redirect')) return; // htmx follows it
    toast(xhr && xhr.responseText ? xhr.responseText : '');
  });
  document.addEventListener('htmx:sendError', function () {
    var box = document.getElementById('toast');
    toast('<div class="rounded-xl border border-red-200 bg-red-50 p-4 text-sm text-red-800" role="alert">' +
      (box && box.dataset.offline ? box.dataset.offline : 'Network error') + '</div>');
  });
})();

// The chat widget: the htmx ws extension carries the messages; this keeps
// the form and the scroll right, and the socket alive across token refreshes.
(function () {
  'use strict';

  function scrollChat() {
    var log = document.getElementById('chat-log');
    var box = log && log.closest('[data-testid="chat-scroll"]');
    if (box) box.scrollTop = box.scrollHeight;
  }

  // The socket's state: 'connecting' until it opens or fails, then 'open'
  // or 'down'. A message goes out only on a socket not down (else the
  // extension would queue it with no word), with a nonce; the server's ack
  // of that nonce says it was stored, and only then does the box empty.
  // Refused or not acknowledged in time: marked not sent, the text kept.
  var socketState = 'connecting';
  var pending = {}; // nonce → {text, timer}
  function notice(which) {
    document.querySelectorAll('[data-chat-notice]').forEach(function (p) {
      if (!which) {
        p.textContent = '';
        p.dataset.shown = '';
        p.classList.add('hidden');
        return;
      }
      p.textContent = p.dataset[which] || '';
      p.dataset.shown = which;
      p.classList.remove('hidden');
    });
  }
  function noticeShown() {
    var p = document.querySelector('[data-chat-notice]');
    return p ? p.dataset.shown || '' : '';
  }
  document.addEventListener('htmx:wsConfigSend', function (e) {
    var form = e.target && e.target.closest && e.target.closest('#chat-form');
    if (!form) return;
    if (socketState === 'down') {
      e.preventDefault();
      if (e.detail.triggeringEvent) e.detail.triggeringEvent.preventDefault(); // no native submit either
      notice('offline');
      return;
    }
    var nonce = Date.now().toString(36) + Math.random().toString(36).slice(2, 10);
    var box = form.querySelector('#chat-text');
    e.detail.parameters.nonce = nonce;
    pending[nonce] = {
      text: box ? box.value : '',
      timer: setTimeout(function () { delete pending[nonce]; notice('unsent'); }, 10000)
    };
  });
  document.addEventListener('htmx:wsBeforeMessage', function (e) {
    var ack = /^<span data-chat-ack="([^"]*)" data-ok="(true|false)"/.exec(e.detail.message || '');
    if (!ack) return;
    e.preventDefault(); // nothing to swap
    var sent = pending[ack[1]];
    if (!sent) return;
    clearTimeout(sent.timer);
    delete pending[ack[1]];
    if (ack[2] !== 'true') {
      notice('unsent');
      return;
    }
    var box = document.getElementById('chat-text');
    if (box && box.value === sent.text) box.value = ''; // what was typed since stays
    if (noticeShown() === 'unsent') notice(null);
  });
  // Enter sends, Shift+Enter is a new line.
  document.addEventListener('keydown', function (e) {
    if (e.key === 'Enter' && !e.shiftKey && e.target && e.target.id === 'chat-text') {
      e.preventDefault();
      if (e.target.value.trim() !== '') e.target.form.requestSubmit();
    }
  });
  // The widget's socket opens when its panel does, not with every page:
  // the badge polls /chat/unread until then.
  document.addEventListener('toggle', function (e) {
    var panel = e.target;
    if (!panel || panel.id !== 'chat-panel' || !panel.open || !window.htmx) return;
    var widget = panel.closest('[data-chat-socket]');
    if (!widget || widget.hasAttribute('ws-connect')) return;
    socketState = 'connecting';
    // The ws-send forms already in the panel were bound when there was no
    // socket to send on: fresh copies are bound to it.
    widget.querySelectorAll('[ws-send]').forEach(function (el) { el.replaceWith(el.cloneNode(true)); });
    widget.setAttribute('hx-ext', 'ws');
    widget.setAttribute('ws-connect', widget.dataset.chatSocket);
    htmx.process(widget);
  }, true); // toggle does not bubble
  // What the socket sends for one conversation goes only where that
  // conversation is open.
  document.addEventListener('htmx:oobBeforeSwap', function (e) {
    var first = e.detail.fragment && e.detail.fragment.firstElementChild;
    var target = e.detail.target;
    if (first && first.dataset && first.dataset.conversation !== undefined &&
        target && target.dataset && target.dataset.conversation !== first.dataset.conversation) {
      e.detail.shouldSwap = false;
    }
  });
  // Back to the list: the conversation's place empties, the socket is told.
  document.addEventListener('click', function (e) {
    var back = e.target.closest && e.target.closest('[data-chat-back]');
    if (!back) return;
    var view = document.getElementById('chat-view');
    if (view) {
      view.innerHTML = '<div id="chat-log" class="hidden" data-conversation=""></div><p id="chat-typing" class="hidden" data-conversation=""></p>';
    }
    if (window.htmx) htmx.trigger(document.body, 'chat:closed');
  });
  document.addEventListener('htmx:oobAfterSwap', scrollChat);
  document.addEventListener('htmx:afterSwap', scrollChat);

  // A socket that reopens may have missed messages: reload the open
  // conversation. One that fails may hold an expired access token: refresh
  // it (the cookies come back on the redirect), and the extension retries.
  // (The first open too: a page rendered with a conversation may have
  // missed what came before its socket was up.)
  document.addEventListener('htmx:wsOpen', function () {
    socketState = 'open';
    if (noticeShown() === 'offline') notice(null);
    var log = document.getElementById('chat-log');
    if (log && log.dataset.conversation && window.htmx) {
      htmx.ajax('GET', '/chat/conversations/' + encodeURIComponent(log.dataset.conversation) + '/messages', { target: '#chat-view' });
    }
  });
  // Without a socket the badge polls again, until the socket is back and
  // replaces it with one that does not.
  function pollBadge() {
    var badge = document.getElementById('chat-badge');
    if (!badge || badge.hasAttribute('hx-get') || !window.htmx) return;
    badge.setAttribute('hx-get', '/chat/unread');
    badge.setAttribute('hx-trigger', 'every 30s');
    badge.setAttribute('hx-swap', 'outerHTML');
    htmx.process(badge);
  }
  document.addEventListener('htmx:wsError', function () { socketState = 'down'; notice('offline'); pollBadge(); });
  document.addEventListener('htmx:wsClose', function (e) {
    socketState = 'down';
    notice('offline'); // until it opens again
    pollBadge();
    var code = e.detail && e.detail.event && e.detail.event.code;
    if (code === 1000 || code === 1008) return; // closed on purpose (a logout); 1012, 1013: the extension retries
    if (code === 1001) {
      // The server restarts (the extension does not retry 1001): come back
      // in a few seconds with a fresh socket.
      var elt = e.target;
      setTimeout(function () {
        if (!elt.isConnected || !window.htmx) return;
        var fresh = elt.cloneNode(true);
        elt.replaceWith(fresh);
        htmx.process(fresh);
      }, 2000 + Math.random() * 3000);
      return;
    }
    fetch('/auth/refresh?next=/', { credentials: 'same-origin', redirect: 'manual' }).catch(function () {});
  });
})();

// The booking form's saved addresses: a tap puts one into the address field.
(function () {
  'use strict';
  document.addEventListener('click', function (e) {
    var b = e.target && e.target.closest && e.target.closest('[data-fill-address]');
    if (!b) return;
    var field = b.form && b.form.querySelector('[name="address"]');
    if (field) { field.value = b.dataset.fillAddress; field.dispatchEvent(new Event('input', { bubbles: true })); }
  });
})();

// A form marked data-focus-first starts with its first empty field focused
// (the sign-up, the code, the booking form), and in view.
(function () {
  'use strict';
  function focusFirst(root) {
    var form = root.querySelector ? (root.matches && root.matches('[data-focus-first]') ? root : root.querySelector('[data-focus-first]')) : null;
    if (!form) return;
    var fields = form.querySelectorAll('input:not([type=hidden]):not([disabled]), textarea, select');
    var pick = null;
    for (var i = 0; i < fields.length; i++) {
      // The price's inputs are filled or optional (a promo code): skipped.
      if (fields[i].closest('[data-skip-focus]')) continue;
      if (fields[i].type !== 'date' && fields[i].tagName !== 'SELECT' && fields[i].value === '') { pick = fields[i]; break; }
    }
    // All filled (a saved address, the profile's phone): the button.
    if (!pick) pick = form.querySelector('[type=submit]');
    if (!pick) return;
    pick.focus({ preventScroll: true });
    pick.scrollIntoView({ block: 'center' });
  }
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', function () { focusFirst(document); });
  } else {
    focusFirst(document);
  }
  document.addEventListener('htmx:afterSettle', function (e) { if (e.target) focusFirst(e.target); });
})();

// The floating chat button never covers a form's button: when one lies
// under it (a phone's full-width buttons), the chat button moves up above
// it, and back once the page scrolls on.
(function () {
  'use strict';
  var queued = false;
  function overlaps(a, b) { return a.right > b.left && a.left < b.right && a.bottom > b.top && a.top < b.bottom; }
  function keepClear() {
    queued = false;
    var w = document.getElementById('chat-widget');
    var open = document.getElementById('chat-panel');
    if (!w || (open && open.open)) return;
    w.style.bottom = '';
    var buttons = document.querySelectorAll('form [type=submit], [data-testid=card-book], [data-testid=book]');
    for (var round = 0; round < 4; round++) {
      var wr = w.getBoundingClientRect(), top = null;
      for (var i = 0; i < buttons.length; i++) {
        if (w.contains(buttons[i])) continue;
        var r = buttons[i].getBoundingClientRect();
        if (r.width && r.height && overlaps(r, wr) && (top === null || r.top < top)) top = r.top;
      }
      if (top === null) return;
      w.style.bottom = Math.max(16, window.innerHeight - top + 8) + 'px';
    }
  }
  function queue() { if (!queued) { queued = true; window.requestAnimationFrame(keepClear); } }
  window.addEventListener('scroll', queue, { passive: true });
  window.addEventListener('resize', queue);
  window.addEventListener('load', queue);
  document.addEventListener('htmx:afterSettle', queue);
  document.addEventListener('toggle', queue, true);
  if (document.readyState !== 'loading') queue(); else document.addEventListener('DOMContentLoaded', queue);
})();

// The booking form's steppers (#20): − and + next to a number input, big
// enough for a thumb. They change the value within its min and max and
// tell the form, as typing would (the price panel listens for input).
(function () {
  'use strict';
  document.addEventListener('click', function (e) {
    var button = e.target.closest && e.target.closest('[data-step]');
    if (!button) return;
    var box = button.closest('[data-stepper]');
    var input = box && box.querySelector('input[type="number"]');
    if (!input) return;
    e.preventDefault();
    var step = parseInt(button.getAttribute('data-step'), 10) || 0;
    var min = input.min === '' ? -Infinity : parseInt(input.min, 10);
    var max = input.max === '' ? Infinity : parseInt(input.max, 10);
    var now = parseInt(input.value, 10);
    if (isNaN(now)) now = step > 0 ? min - step : min;
    var next = Math.min(max, Math.max(min, now + step));
    if (String(next) === input.value) return;
    input.value = String(next);
    input.dispatchEvent(new Event('input', { bubbles: true }));
    input.dispatchEvent(new Event('change', { bubbles: true }));
  });
})();

// A cleaner's checklist (#22): a tick shows at once and is sent on its own
// (PUT, JSON). One the phone cannot send waits in localStorage, marked
// "waiting", and goes again when the phone is back online or the page is
// opened again: a lost connection loses no tick. Each row is a form, which
// works without this script too.
(function () {
  'use strict';
  var KEY = 'tozalash.checklist';
  function waiting() {
    try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch (e) { return {}; }
  }
  function keep(all) {
    try { localStorage.setItem(KEY, JSON.stringify(all)); } catch (e) { /* private mode: the row says "waiting" */ }
  }
  function rowOf(url) {
    var rows = document.querySelectorAll('form[data-tick]');
    for (var i = 0; i < rows.length; i++) if (rows[i].getAttribute('data-tick') === url) return rows[i];
    return null;
  }
  function show(row, done, isWaiting) {
    if (!row) return;
    row.setAttribute('data-done', String(done));
    row.setAttribute('data-waiting', String(isWaiting));
    var button = row.querySelector('button');
    if (button) button.setAttribute('aria-pressed', String(done));
    var next = row.querySelector('input[name="done"]');
    if (next) next.value = String(!done);
    var note = row.querySelector('[data-tick-waiting]');
    if (note) note.classList.toggle('hidden', !isWaiting);
  }
  function headers() {
    var h = { 'Content-Type': 'application/json', 'Accept': 'application/json' };
    try {
      var extra = JSON.parse(document.body.getAttribute('hx-headers') || '{}');
      for (var k in extra) h[k] = extra[k];
    } catch (e) { /* no token: the server refuses, the tick waits */ }
    return h;
  }
  // send sends one tick; it settles the row: saved, refused (the server's
  // state is shown again) or still waiting (no connection, or signed out
  // meanwhile: the next page load sends it).
  function send(url, done) {
    return fetch(url, { method: 'PUT', credentials: 'same-origin', headers: headers(), body: JSON.stringify({ done: done }) })
      .then(function (r) {
        if (r.status === 401 || r.status >= 500) throw new Error(String(r.status));
        var all = waiting();
        if (all[url] === done) { delete all[url]; keep(all); }
        show(rowOf(url), r.ok ? done : !done, false);
      })
      .catch(function () { show(rowOf(url), done, true); });
  }
  function flush() {
    var all = waiting();
    Object.keys(all).forEach(function (url) { send(url, all[url]); });
  }
  function showWaiting() {
    var all = waiting();
    Object.keys(all).forEach(function (url) { show(rowOf(url), all[url], true); });
  }
  document.addEventListener('submit', function (e) {
    var row = e.target.closest && e.target.closest('form[data-tick]');
    if (!row) return;
    e.preventDefault();
    var url = row.getAttribute('data-tick');
    var done = row.getAttribute('data-done') !== 'true';
    var all = waiting();
    all[url] = done;
    keep(all);
    show(row, done, false);
    send(url, done);
  });
  window.addEventListener('online', flush);
  document.addEventListener('htmx:afterSettle', showWaiting);
  function start() { showWaiting(); if (navigator.onLine !== false) flush(); }
  if (document.readyState !== 'loading') start(); else document.addEventListener('DOMContentLoaded', start);
})();
