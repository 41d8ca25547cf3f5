// Permiso console: the one script. It only adds a Copy button next to a
// newly issued secret; every page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    var field = document.getElementById(btn.getAttribute("data-copy"));
    if (!field || !navigator.clipboard) {
      return;
    }
    btn.hidden = false;
    btn.addEventListener("click", function () {
      navigator.clipboard.writeText(field.value).then(function () {
        btn.textContent = "Copied";
      }, function () {
        field.select();
        btn.textContent = "Press Ctrl+C to copy";
      });
    });
  });
});
