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
