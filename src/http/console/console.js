// traceseal console: the unified social credit code (统一社会信用代码, GB 32100-2015) checked as
// it is typed, with the rule of `Uscc::parse` (src/gs1.rs). The server checks it again.
"use strict";
(function () {
  var ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  var WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

  // null when valid, else [problem, detail] (the texts are the page's, in data-* attributes).
  function problem(code) {
    var values = [];
    for (var i = 0; i < code.length; i++) {
      var ch = code.charAt(i).toUpperCase();
      var v = ALPHABET.indexOf(ch);
      if (v < 0) return ["char", code.charAt(i) + " @" + (i + 1)];
      if (i >= 2 && i < 8 && v >= 10) return ["region", ch + " @" + (i + 1)];
      values.push(v);
    }
    if (values.length !== 18) return ["length", String(values.length)];
    var sum = 0;
    for (var j = 0; j < 17; j++) sum += values[j] * WEIGHTS[j];
    var expected = (31 - (sum % 31)) % 31;
    if (values[17] !== expected) return ["check", ALPHABET.charAt(expected)];
    return null;
  }

  function check(input, out) {
    var code = input.value.trim();
    if (code === "") {
      out.textContent = "";
      out.className = "check";
      input.setCustomValidity("");
      return;
    }
    var p = problem(code);
    var text = p ? out.dataset[p[0]] + " " + p[1] : out.dataset.ok;
    out.textContent = text;
    out.className = p ? "check bad" : "check good";
    input.setCustomValidity(p ? text : "");
    input.setAttribute("aria-invalid", p ? "true" : "false");
  }

  document.querySelectorAll("input[data-check=uscc]").forEach(function (input) {
    var out = document.getElementById(input.id + "-check");
    if (!out) return;
    input.addEventListener("input", function () { check(input, out); });
    check(input, out);
  });
})();
