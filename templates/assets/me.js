/* 我的积分: the card token in the URL fragment opens this resident's sealed data file.
   The token never leaves the browser: the file name and the key are derived from it here.
   Pure JavaScript crypto (kit-crypto.js), so it also works on a plain-HTTP local server. */
(function () {
  "use strict";
  var root = document.getElementById("kit-me");
  if (!root || !window.KitCrypto) { return; }
  var C = window.KitCrypto;
  var enc = new TextEncoder();
  var parts = {
    ask: root.querySelector(".kit-me-ask"),
    wait: root.querySelector(".kit-me-wait"),
    missing: root.querySelector(".kit-me-missing"),
    show: root.querySelector(".kit-me-show")
  };

  function only() {
    var shown = Array.prototype.slice.call(arguments);
    Object.keys(parts).forEach(function (key) { parts[key].hidden = shown.indexOf(key) < 0; });
  }

  function notFound() {
    only("missing", "ask");  // keep the form: the resident can type the number again
    parts.ask.querySelector("input").focus();
  }

  function normalize(text) {
    var t = (text || "").toUpperCase().replace(/[\s\-_.]/g, "").replace(/0/g, "O").replace(/1/g, "I");
    return /^[A-Z2-7]{26}$/.test(t) ? t : null;
  }

  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function derive(token, info, length) {
    return C.hkdf(C.sha256, enc.encode(token), undefined, enc.encode(info), length);
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function signed(points) {
    if (points === null || points === undefined) { return "—"; }
    return points > 0 ? "+" + points : String(points);
  }

  function table(title, lines) {
    var box = el("div", "kit-me-block");
    box.appendChild(el("h2", null, title));
    if (!lines.length) {
      box.appendChild(el("p", null, "暂无记录。"));
      return box;
    }
    var t = el("table");
    var head = el("tr");
    ["日期", "事项", "积分", "状态"].forEach(function (h) { head.appendChild(el("th", null, h)); });
    t.appendChild(el("thead")).appendChild(head);
    var body = el("tbody");
    lines.forEach(function (line) {
      var row = el("tr");
      row.appendChild(el("td", null, line.date));
      var what = el("td", null, line.text);
      if (line.code) { what.appendChild(el("small", "kit-me-code", "公示编码 " + line.code)); }
      row.appendChild(what);
      row.appendChild(el("td", "kit-me-points", signed(line.points)));
      row.appendChild(el("td", null, line.status));
      body.appendChild(row);
    });
    t.appendChild(body);
    box.appendChild(t);
    return box;
  }

  function render(data) {
    parts.ask.querySelector("input").value = "";  // the number is not left on the page
    var show = parts.show;
    show.textContent = "";
    var head = el("div", "kit-me-head");
    head.appendChild(el("p", "kit-me-hello", data.display_name + "，您好"));
    head.appendChild(el("p", "kit-me-label", "现在可用的积分"));
    head.appendChild(el("p", "kit-me-balance", data.balance + " 分"));
    if (data.expiring_30d > 0) {
      head.appendChild(el("p", "kit-me-expiring", "注意：30 天内有 " + data.expiring_30d + " 分将到期减少，请尽早兑换。"));
    }
    var facts = el("ul", "kit-me-facts");
    facts.appendChild(el("li", null, "累计获得 " + data.earned + " 分，已兑换 " + data.redeemed + " 分，到期减少 " + data.decayed + " 分"));
    facts.appendChild(el("li", null, "排行榜上的名字：" + data.display_name + (data.display_name !== data.pseudonym ? "（化名 " + data.pseudonym + "）" : "") + "；化名每年 1 月 1 日更换"));
    facts.appendChild(el("li", null, data.rank ? "今年全社区排名：第 " + data.rank + " 名（共 " + data.ranked + " 人有积分）" : "今年还没有积分，快来参加活动吧"));
    facts.appendChild(el("li", null, "所在网格：" + data.grid));
    facts.appendChild(el("li", "kit-me-asof", "数据更新至 " + data.as_of));
    head.appendChild(facts);
    show.appendChild(head);
    show.appendChild(table("积分记录", data.entries));
    show.appendChild(table("兑换和到期", data.changes));
    if (data.fingerprint) { checkFingerprint(data.fingerprint, show); }
    only("show");
  }

  /* 账本指纹: the newest records must be in the published checkpoint (RFC 9162 audit paths). */
  function b64(text) {
    var raw = atob(text), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out;
  }

  function join(parts) {
    var size = parts.reduce(function (n, p) { return n + p.length; }, 0);
    var out = new Uint8Array(size), at = 0;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }

  // published hashes are base16 in the letters a-p (kit/fingerprint.py hash_text)
  function letters(h) {
    return h.replace(/[0-9a-f]/g, function (d) { return "abcdefghijklmnop".charAt(parseInt(d, 16)); });
  }

  function includes(leaf, index, size, proof, root) {
    if (index >= size) { return false; }
    var fn = index, sn = size - 1, r = leaf;
    for (var i = 0; i < proof.length; i++) {
      if (sn === 0) { return false; }
      if (fn % 2 === 1 || fn === sn) {
        r = C.sha256(join([new Uint8Array([1]), proof[i], r]));
        while (fn % 2 === 0 && fn !== 0) { fn >>= 1; sn >>= 1; }
      } else {
        r = C.sha256(join([new Uint8Array([1]), r, proof[i]]));
      }
      fn >>= 1; sn >>= 1;
    }
    return sn === 0 && letters(hex(r)) === root;
  }

  function verifyFingerprint(fp, published) {
    var checkpoint = published.filter(function (c) { return c.number === fp.checkpoint.number; })[0];
    if (!checkpoint || checkpoint.root !== fp.checkpoint.root || checkpoint.size !== fp.checkpoint.size) {
      return false;
    }
    return fp.leaves.every(function (leaf) {
      var salt = b64(leaf.salt || fp.salt);  // a record published before a reissue keeps its salt
      var hash = C.sha256(join([new Uint8Array([0]), salt, enc.encode(leaf.text)]));
      return includes(hash, leaf.index, checkpoint.size, leaf.proof.map(b64), checkpoint.root);
    });
  }

  function checkFingerprint(fp, show) {
    var line = el("p", "kit-me-fingerprint", "正在核对账本指纹……");
    show.appendChild(line);
    fetch("../ledger/checkpoints.json", { cache: "no-store", referrerPolicy: "no-referrer", credentials: "omit" })
      .then(function (response) { return response.json(); })
      .then(function (published) {
        if (!fp.leaves.length) {
          line.textContent = "账本指纹：您还没有已公示的记录。";
        } else if (verifyFingerprint(fp, published.checkpoints)) {
          line.textContent = "✓ 账本指纹核对无误：您最近的 " + fp.leaves.length + " 条记录（共 " + fp.records +
            " 条）已包含在 " + fp.checkpoint.date + " 的第 " + fp.checkpoint.number + " 号账本指纹中。";
          line.className = "kit-me-fingerprint kit-me-ok";
        } else {
          line.textContent = "⚠ 账本指纹核对没有通过，请到社区服务站反映。";
          line.className = "kit-me-fingerprint kit-me-bad";
        }
      })
      .catch(function () { line.textContent = "暂时无法核对账本指纹。"; });
  }

  function open(token) {
    only("wait");
    var name = hex(derive(token, root.dataset.fileInfo, 16));
    fetch("d/" + name + ".bin", { cache: "no-store", referrerPolicy: "no-referrer", credentials: "omit" })
      .then(function (response) {
        if (!response.ok) {
          if (response.body) { response.body.cancel(); }  // not read: let the connection go
          throw new Error("missing");
        }
        return response.arrayBuffer();
      })
      .then(function (buffer) {
        var sealed = new Uint8Array(buffer);
        var key = derive(token, root.dataset.keyInfo, 32);
        var plain = C.chacha20poly1305(key, sealed.slice(0, 12)).decrypt(sealed.slice(12));
        render(JSON.parse(new TextDecoder().decode(plain)));
      })
      .catch(notFound);
  }

  // The card's QR code brings the number in the fragment: read it, then take it out of the
  // address bar and the history, so a shared screenshot or link does not carry it.
  function load() {
    var fragment = location.hash.slice(1);
    try { fragment = decodeURIComponent(fragment); } catch (e) { /* a cut-off %XX */ }
    if (fragment && window.history && history.replaceState) {
      history.replaceState(null, "", location.pathname + location.search);
    }
    var token = normalize(fragment);
    if (!token) {
      if (fragment.trim()) { notFound(); } else { only("ask"); }  // a smudged or cut-off card
      return;
    }
    open(token);
  }

  parts.ask.querySelector("form").addEventListener("submit", function (event) {
    event.preventDefault();
    var token = normalize(parts.ask.querySelector("input").value);
    if (!token) { notFound(); } else { open(token); }
  });
  window.addEventListener("hashchange", load);
  load();
})();
