/* Self-check quiz: instant feedback, no network, no libraries. */
(function () {
  "use strict";
  var quiz = document.querySelector(".kit-quiz");
  if (!quiz) { return; }
  var total = Number(quiz.dataset.total);
  var answered = 0;
  var right = 0;
  var score = quiz.querySelector(".kit-quiz-score");
  Array.prototype.forEach.call(quiz.querySelectorAll(".kit-quiz-question"), function (question) {
    var answer = Number(question.dataset.answer);
    var result = question.querySelector(".kit-quiz-result");
    var explain = question.querySelector(".kit-quiz-explain");
    var options = question.querySelectorAll(".kit-quiz-option");
    Array.prototype.forEach.call(options, function (option) {
      option.addEventListener("click", function () {
        if (question.dataset.done) { return; }
        question.dataset.done = "1";
        var chosen = Number(option.dataset.index);
        var ok = chosen === answer;
        answered += 1;
        if (ok) { right += 1; }
        Array.prototype.forEach.call(options, function (o) {
          o.disabled = true;
          if (Number(o.dataset.index) === answer) { o.classList.add("kit-quiz-right"); }
        });
        if (!ok) { option.classList.add("kit-quiz-wrong"); }
        result.textContent = ok ? "✓ 答对了！" : "✗ 答错了，正确答案是：" + options[answer].textContent;
        result.className = "kit-quiz-result " + (ok ? "kit-quiz-ok" : "kit-quiz-no");
        result.hidden = false;
        explain.hidden = !explain.textContent.trim();
        score.textContent = "已答 " + answered + " / " + total + " 题，答对 " + right + " 题" +
          (answered === total ? "。" + (right === total ? "全部答对，真棒！" : "看看解释，再复习一下吧。") : "");
      });
    });
  });
})();
