// Copy buttons: <button data-copy-target="ID"> copies the text of element ID.
// Uses the Clipboard API where the page may (a secure context), else selects the text so
// the user can press Ctrl+C; either way the state line says what happened.
(function () {
  "use strict";
  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
  function report(button, text) {
    var state = button.parentNode.querySelector(".copy-state");
    if (state) { state.textContent = text; }
  }
  document.querySelectorAll("button[data-copy-target]").forEach(function (button) {
    button.addEventListener("click", function () {
      var target = document.getElementById(button.getAttribute("data-copy-target"));
      if (!target) { return; }
      var text = target.textContent;
      selectText(target);
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(
          function () { report(button, "Copied."); },
          function () { report(button, "Selected: press Ctrl+C to copy."); }
        );
      } else {
        report(button, "Selected: press Ctrl+C to copy.");
      }
    });
  });
})();
