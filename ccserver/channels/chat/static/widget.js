/* ccserver chat widget: one <script src=".../chat/widget.js"></script> on any page.
 * Plain JS, no dependencies. Everything shown is set with textContent (never innerHTML),
 * so text typed by anyone is displayed, never run. Reconnects with the last seen seq and
 * the server replays what was missed. Files (the paperclip) are POSTed to /chat/upload with
 * the chat id and token, without cookies; the server echoes the file as a "msg" frame. A file
 * line (the customer's or the agent's) downloads by POSTing the chat id and token to its url
 * (the token never goes in a URL) and saving the answer as a blob. */
(function () {
  "use strict";
  if (window.__ccsChat) return;
  var me = document.currentScript;
  var base = me && me.src ? new URL(me.src) : new URL(location.href);
  var wsUrl = (base.protocol === "https:" ? "wss://" : "ws://") + base.host + "/chat/ws";
  var origin = base.protocol + "//" + base.host;
  var uploadUrl = origin + "/chat/upload";
  var KEY = "ccs_chat";
  var state = { ws: null, chatId: null, token: null, lastSeq: 0, ended: false, retry: 0 };
  try { Object.assign(state, JSON.parse(sessionStorage.getItem(KEY) || "{}")); } catch (e) {}

  function el(tag, attrs, text) {
    var n = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { n.setAttribute(k, attrs[k]); });
    if (text !== undefined) n.textContent = String(text);
    return n;
  }
  function save() {
    sessionStorage.setItem(KEY, JSON.stringify(
      { chatId: state.chatId, token: state.token, lastSeq: state.lastSeq }));
  }

  var root = el("div", { id: "ccs-chat", role: "complementary", "aria-label": "Chat" });
  root.style.cssText = "position:fixed;right:16px;bottom:16px;width:320px;max-height:70vh;" +
    "display:flex;flex-direction:column;background:#fff;border:1px solid #888;" +
    "border-radius:8px;font:14px sans-serif;z-index:2147483000;box-shadow:0 2px 12px #0003";
  var head = el("div", {}, "Chat with us");
  head.style.cssText = "padding:8px;background:#234;color:#fff;border-radius:8px 8px 0 0";
  var status = el("div", { id: "ccs-status", "aria-live": "polite" }, "");
  status.style.cssText = "padding:2px 8px;font-size:12px;color:#555";
  var log = el("div", { id: "ccs-log", "aria-live": "polite" });
  log.style.cssText = "flex:1;overflow:auto;padding:8px;min-height:120px";
  var extra = el("div", { id: "ccs-extra" });
  extra.style.cssText = "padding:0 8px";
  var form = el("form", { id: "ccs-input" });
  var input = el("input", { id: "ccs-text", maxlength: "2000", placeholder: "Type a message",
    "aria-label": "Message" });
  input.style.cssText = "width:70%";
  var send = el("button", { type: "submit" }, "Send");
  var attach = el("button", { type: "button", id: "ccs-attach", "aria-label": "Attach a file",
    title: "Attach a file" }, "\uD83D\uDCCE");
  var picker = el("input", { type: "file", id: "ccs-file", "aria-label": "File to send" });
  picker.style.display = "none";
  form.appendChild(input); form.appendChild(attach); form.appendChild(send); form.appendChild(picker);
  form.style.cssText = "display:none;padding:8px";
  root.appendChild(head); root.appendChild(status); root.appendChild(log);
  root.appendChild(extra); root.appendChild(form);

  function line(who, body) {
    var row = el("div", { "class": "ccs-line ccs-" + who });
    row.appendChild(el("b", {}, who === "customer" ? "You: " : who === "bot" ? "Bot: " :
      who === "agent" ? "Agent: " : ""));
    var span = el("span", { "class": "ccs-body" }, body instanceof Node ? undefined : body);
    if (body instanceof Node) span.appendChild(body);
    row.appendChild(span);
    log.appendChild(row);
    log.scrollTop = log.scrollHeight;
  }
  function size(n) {
    return n < 1024 ? n + " B" : n < 1048576 ? Math.ceil(n / 1024) + " KB" : (n / 1048576).toFixed(1) + " MB";
  }
  function fileLink(f) {
    var label = "File: " + f.name + " (" + size(f.size) + ")";
    // Only the server's own download route is used (never a URL taken from elsewhere).
    if (typeof f.url !== "string" || !/^\/chat\/files\/[0-9a-f-]+$/.test(f.url)) return label;
    var a = el("a", { "class": "ccs-file", href: "#", "aria-label": "Download " + f.name }, label);
    a.addEventListener("click", function (ev) { ev.preventDefault(); download(f); });
    return a;
  }
  function download(f) {
    var body = new URLSearchParams();  // a form body: a "simple" CORS request, no preflight
    body.append("chat_id", state.chatId); body.append("token", state.token);
    status.textContent = "Downloading " + f.name + "\u2026";
    fetch(origin + f.url, { method: "POST", body: body, credentials: "omit" })
      .then(function (r) {
        if (!r.ok) {
          return r.json().catch(function () { return {}; }).then(function (d) {
            status.textContent = (d.error && d.error.message) || "the download failed (" + r.status + ")";
          });
        }
        return r.blob().then(function (b) {
          // Saved, never shown: the blob is application/octet-stream and has the download attribute.
          var url = URL.createObjectURL(b);
          var a = el("a", { href: url, download: f.name });
          a.style.display = "none";
          root.appendChild(a); a.click(); root.removeChild(a);
          setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
          status.textContent = "";
        });
      })
      .catch(function () { status.textContent = "the download failed; please try again"; });
  }
  function refused(name, why) {
    line("system", "Not sent: " + name + " \u2014 " + why);
    status.textContent = why;
  }
  function upload(file) {
    var lim = state.uploads || {};
    var ext = file.name.indexOf(".") >= 0 ? "." + file.name.split(".").pop().toLowerCase() : "";
    if (lim.accept && lim.accept.split(",").indexOf(ext) < 0) return refused(file.name, "this type of file cannot be sent");
    if (lim.max_bytes && file.size > lim.max_bytes) return refused(file.name, "the file is larger than " + size(lim.max_bytes));
    var body = new FormData();  // the chat id and token first: the server checks them before the file
    body.append("chat_id", state.chatId); body.append("token", state.token); body.append("file", file, file.name);
    status.textContent = "Sending " + file.name + "\u2026";
    fetch(uploadUrl, { method: "POST", body: body, credentials: "omit", headers: { Accept: "application/json" } })
      .then(function (r) {
        return r.json().catch(function () { return {}; }).then(function (d) {
          if (r.ok) { status.textContent = ""; return; }
          refused(file.name, (d.error && d.error.message) || "the upload failed (" + r.status + ")");
        });
      })
      .catch(function () { refused(file.name, "the upload failed; please try again"); });
  }
  function clearExtra() { while (extra.firstChild) extra.removeChild(extra.firstChild); }
  function button(label, onClick) {
    var b = el("button", { type: "button" }, label);
    b.addEventListener("click", onClick);
    extra.appendChild(b);
    return b;
  }
  function sendFrame(type, data) {
    if (state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify({ type: type, data: data || {} }));
  }

  function preChat() {
    var f = el("form", { id: "ccs-prechat" });
    [["name", "Your name", "text"], ["email", "Email", "email"], ["phone", "Phone", "tel"],
     ["topic", "Topic", "text"]].forEach(function (x) {
      var lab = el("label", {}, x[1] + " ");
      lab.appendChild(el("input", { name: x[0], type: x[2], maxlength: "100" }));
      f.appendChild(lab); f.appendChild(el("br"));
    });
    var c = el("label", {}, " I agree that this chat is recorded");
    c.insertBefore(el("input", { name: "consent", type: "checkbox" }), c.firstChild);
    f.appendChild(c); f.appendChild(el("br"));
    f.appendChild(el("button", { type: "submit" }, "Start chat"));
    f.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var d = { name: f.name.value, email: f.email.value || null, phone: f.phone.value || null,
        topic: f.topic.value || null, consent: f.consent.checked };
      connect(function () { sendFrame("start", d); });
    });
    extra.appendChild(f);
  }

  function onFrame(fr) {
    var d = fr.data || {};
    if (typeof fr.seq === "number") { if (fr.seq <= state.lastSeq) return; state.lastSeq = fr.seq; save(); }
    switch (fr.type) {
      case "session":
        state.chatId = d.chat_id; state.token = d.token; state.uploads = d.uploads; save(); clearExtra();
        if (d.uploads && d.uploads.accept) picker.setAttribute("accept", d.uploads.accept);
        form.style.display = "block"; status.textContent = "Case " + d.case_number; break;
      case "msg":
        line(d.from, d.kind === "file" && d.file ? fileLink(d.file) : d.text);
        clearExtra();
        (d.buttons || []).forEach(function (b) {
          button(b.label, function () { sendFrame("choice", { value: b.value }); clearExtra(); })
            .setAttribute("data-value", String(b.value));
        });
        if (d.from === "agent") sendFrame("read", { seq: fr.seq });
        break;
      case "queue":
        status.textContent = "Position " + d.position + ", about " + Math.ceil(d.ewt_s / 60) + " min"; break;
      case "typing": status.textContent = "Agent is typing…"; break;
      case "read": status.textContent = "Read"; break;
      case "agent_joined": line("system", (d.name || "An agent") + " joined"); status.textContent = ""; break;
      case "agent_left": line("system", "The agent closed the chat"); break;
      case "transferred": line("system", "Transferring you to a colleague…"); break;
      case "no_agents":
        line("system", "No agents are available right now.");
        button("Leave a message", function () {
          var t = input.value.trim(); if (t) { sendFrame("leave_message", { text: t }); input.value = ""; }
          else status.textContent = "Type your message first, then press Leave a message";
        });
        button("Request a callback", function () { sendFrame("callback", {}); });
        break;
      case "message_left": line("system", "Message received, case " + d.case_number); break;
      case "callback_scheduled": line("system", "We will call you back, case " + d.case_number); break;
      case "survey": survey(d.questions || []); break;
      case "ended":
        state.ended = true; form.style.display = "none"; sessionStorage.removeItem(KEY);
        line("system", d.thanks ? "Thank you!" : "Chat ended");
        clearExtra();
        button("Email me the transcript", function () { sendFrame("transcript"); clearExtra(); });
        break;
      case "transcript_sent": line("system", "Transcript sent to " + d.to); break;
      case "error":
        if (d.code === "unknown_chat") {  // the chat is over on the server: start afresh
          sessionStorage.removeItem(KEY); state.chatId = null; state.token = null;
          form.style.display = "none"; clearExtra(); preChat();
        }
        status.textContent = d.text || d.code; break;
      case "notice": status.textContent = d.text || d.code; break;
    }
  }

  function survey(questions) {
    clearExtra();
    var answers = {};
    questions.forEach(function (q) {
      extra.appendChild(el("div", {}, q.text));
      for (var v = q.min; v <= q.max; v++) {
        (function (v) { button(String(v), function () { answers[q.id] = v; }); })(v);
      }
    });
    button("Send rating", function () { sendFrame("survey", answers); clearExtra(); });
  }

  function connect(first) {
    if (state.ws) { state.ws.onclose = null; state.ws.close(); }  // one socket per widget
    var ws = new WebSocket(wsUrl);
    state.ws = ws;
    ws.onopen = function () { state.retry = 0; first(); };
    ws.onmessage = function (ev) { try { onFrame(JSON.parse(ev.data)); } catch (e) {} };
    ws.onclose = function () {
      if (state.ended || !state.chatId) return;
      status.textContent = "Reconnecting…";
      var delay = Math.min(10000, 500 * Math.pow(2, state.retry++));
      setTimeout(function () { connect(resume); }, delay);
    };
  }
  function resume() { sendFrame("resume", { chat_id: state.chatId, token: state.token, last_seq: state.lastSeq }); }

  var typingAt = 0;
  input.addEventListener("input", function () {
    var now = Date.now(); if (now - typingAt > 2000) { typingAt = now; sendFrame("typing"); }
  });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var t = input.value.trim(); if (!t) return;
    sendFrame("message", { text: t }); input.value = "";
  });
  attach.addEventListener("click", function () { picker.click(); });
  picker.addEventListener("change", function () {
    var files = Array.prototype.slice.call(picker.files || []);
    picker.value = "";
    files.forEach(upload);
  });
  window.addEventListener("beforeunload", function () { save(); });

  function mount() {
    document.body.appendChild(root);
    // A new page has an empty log: replay the whole chat once, then only what is missed.
    if (state.chatId && state.token) { state.lastSeq = 0; form.style.display = "block"; connect(resume); }
    else preChat();
  }
  window.__ccsChat = { leave: function () { sendFrame("leave"); } };
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
