// Patchbay dashboard: small progressive enhancement (every page works without it).
// - [data-copy=ID]: copy the value of input #ID to the clipboard.
// - [data-poll=URL]: replace the element with URL's HTML every 1.5 s while it keeps a
//   data-poll attribute (a run's live progress; the fragment drops it once finished).
// - select[data-autosubmit]: submit its form on change (the workspace switcher).
(function () {
  "use strict";
  function copy(button) {
    var input = document.getElementById(button.getAttribute("data-copy"));
    if (!input) return;
    input.select();
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        document.execCommand("copy"); done();
      });
    } else {
      document.execCommand("copy"); done();
    }
  }
  function poll(element) {
    var url = element.getAttribute("data-poll");
    if (!url) return;
    window.setTimeout(function () {
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.firstElementChild;
          if (!fresh) return;
          element.replaceWith(fresh);
          poll(fresh);
        })
        .catch(function () { poll(element); });
    }, 1500);
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) copy(button);
  });
  document.addEventListener("change", function (event) {
    if (event.target.matches("select[data-autosubmit]")) event.target.form.submit();
  });
  document.querySelectorAll("[data-poll]").forEach(poll);
})();
