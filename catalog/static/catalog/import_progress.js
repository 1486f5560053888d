// The import job page's progress bar: polls the job's progress (a small JSON view) every second, updates
// the bar and its label, and reloads the page when the step ends (to show the report or the result).
(function () {
  "use strict";
  var bar = document.getElementById("import-progress");
  if (!bar) {
    return;
  }
  var label = document.getElementById("import-progress-label");
  function poll() {
    fetch(bar.dataset.url, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (progress) {
        if (progress && progress.state !== bar.dataset.state) {
          window.location.reload();
          return;
        }
        if (progress && progress.total) {
          bar.max = progress.total;
          bar.value = progress.done;
        }
        if (progress && label) {
          label.textContent = progress.label;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 2000); });
  }
  window.setTimeout(poll, 1000);
}());
