// Text channels in the console: a chat pane per connected chat (several at once, up to the
// agent's capacity) and an email reply pane. Customer lines arrive as `chat_message` frames;
// the agent's own lines come back from POST /api/v1/interactions/{id}/chat. Chat text is
// shown with textContent only, so whatever a customer types stays text. A file either side
// sent is a line of kind "file": a download link (the server always sends it as an
// attachment, never rendered in this origin); its name is text as well. The agent attaches a
// file with the paperclip: POST /api/v1/interactions/{id}/files (multipart, with the CSRF
// header like every console POST); the server checks type, size and the chat's file count.
import { api, attempt, h, notify } from "/static/common.js";

const MAX_LINES = 200;
const transcripts = new Map(); // interaction id -> [{from, text, at, name?, whisper?}]
const ended = new Set();
let lastTyping = 0;

export function chatLine(data) {
  const lines = transcripts.get(data.interaction_id) || [];
  lines.push(data);
  transcripts.set(data.interaction_id, lines.slice(-MAX_LINES));
}

// The conversation so far (the bot / IVR part), sent once the agent has accepted.
export function chatHistory(data) {
  transcripts.set(data.interaction_id, (data.lines || []).slice(-MAX_LINES));
}

const typingUntil = new Map(); // interaction id -> ms until which "customer is typing" shows

export function chatTyping(data) {
  typingUntil.set(data.interaction_id, Date.now() + 4000);
}

export function chatEnded(data) {
  ended.add(data.interaction_id);
  notify(data.by === "customer" ? "The customer left the chat." : "The chat ended.", "warn");
}

export function forget(id) {
  transcripts.delete(id);
  drafts.delete(id);
  typingUntil.delete(id);
  ended.delete(id);
}

function who(line) {
  if (line.whisper) return `${line.name || "Supervisor"} (whisper)`;
  if (line.from === "agent") return "You";
  if (line.from === "customer") return "Customer";
  return line.name || line.from;
}

function kib(bytes) {
  return bytes < 1024 ? `${bytes} B` : bytes < 1048576 ? `${Math.ceil(bytes / 1024)} KB` : `${(bytes / 1048576).toFixed(1)} MB`;
}

function lineBody(l) {
  const f = l.kind === "file" ? l.file : null;
  if (!f) return l.text;
  const label = `${f.name} (${kib(Number(f.size) || 0)})`;
  // Only the server's own download path is linked (never a URL taken from elsewhere).
  if (typeof f.url !== "string" || !f.url.startsWith("/api/v1/interactions/")) return label;
  return h("a", { class: "chat-file", href: f.url, download: f.name, "aria-label": `Download ${label}` }, "File: ", label);
}

function chatPane(i, rerender) {
  const log = h(
    "ol",
    { class: "chat-log", role: "log", "aria-live": "polite", "aria-label": `Chat with ${i.caller || "customer"}` },
    (transcripts.get(i.id) || []).map((l) =>
      h("li", { class: `chat-line from-${l.whisper ? "whisper" : l.from}` }, h("span", { class: "chat-who" }, who(l)), " ", lineBody(l)),
    ),
  );
  if (ended.has(i.id)) return h("div", { class: "chat" }, log, h("p", { class: "muted" }, "Chat ended."));
  const typing = (typingUntil.get(i.id) || 0) > Date.now() ? "Customer is typing…" : "";
  const input = h("input", {
    "aria-label": "Chat message",
    maxlength: 2000,
    autocomplete: "off",
    oninput: () => {
      // Tell the customer the agent is typing, at most every 3 s.
      if (Date.now() - lastTyping > 3000) {
        lastTyping = Date.now();
        api("POST", `/api/v1/interactions/${i.id}/chat`, { typing: true }).catch(() => {});
      }
    },
  });
  const form = h(
    "form",
    {
      class: "chat-send",
      "aria-label": "Send chat message",
      onsubmit: async (ev) => {
        ev.preventDefault();
        const text = input.value.trim();
        if (!text) return;
        const line = await attempt(() => api("POST", `/api/v1/interactions/${i.id}/chat`, { text }));
        if (line) {
          input.value = "";
          chatLine({ interaction_id: i.id, ...line });
          rerender();
        }
      },
    },
    input,
    h("button", { type: "submit" }, "Send"),
  );
  queueMicrotask(() => (log.scrollTop = log.scrollHeight));
  return h("div", { class: "chat" }, log, h("p", { class: "muted typing", "aria-live": "polite" }, typing), form, filePicker(i, rerender));
}

function filePicker(i, rerender) {
  const picker = h("input", {
    type: "file",
    hidden: true,
    "aria-label": "File to send",
    onchange: async () => {
      const files = Array.from(picker.files || []);
      picker.value = "";
      for (const file of files) {
        const body = new FormData();
        body.append("file", file, file.name);
        notify(`Sending ${file.name}…`);
        const line = await attempt(() => api("POST", `/api/v1/interactions/${i.id}/files`, body));
        if (line) {
          notify(`Sent ${line.file.name}.`, "ok");
          chatLine({ interaction_id: i.id, ...line });
          rerender();
        }
      }
    },
  });
  const attach = h("button", { type: "button", class: "chat-attach", title: "Attach a file", "aria-label": "Attach a file", onclick: () => picker.click() }, "📎");
  return h("div", { class: "chat-files" }, attach, picker);
}

// Reply templates (config/channels.toml), loaded once; drafts survive the card being
// re-rendered by live frames; the relay's answers by message id, newest first wins.
let templates = null;
const drafts = new Map(); // interaction id -> {template, language, body}
const deliveries = new Map(); // message id -> status

function loadTemplates(rerender) {
  if (templates !== null) return templates;
  templates = [];
  api("GET", "/api/v1/email/templates")
    .then((r) => {
      templates = r.templates;
      rerender();
    })
    .catch(() => notify("Reply templates could not be loaded.", "warn"));
  return templates;
}

const STATUS_TEXT = {
  sent: (c) => [`Reply sent${c}.`, "ok"],
  failed_retrying: (c, e) => [`Reply not sent yet${c}: ${e}. Retrying automatically.`, "warn"],
  failed: (c, e) => [`Reply could not be delivered${c}: ${e}. A supervisor can retry it.`, "error"],
};

// The relay's answer to a reply this agent sent (`email_delivery` frames).
export function emailDelivery(data) {
  deliveries.set(data.message_id, data.status);
  const text = STATUS_TEXT[data.status];
  if (text) notify(...text(data.case_number ? ` (case ${data.case_number})` : "", data.error));
}

function emailPane(i, rerender) {
  const draft = drafts.get(i.id) || { template: "", language: "en", body: "" };
  drafts.set(i.id, draft);
  const catalogue = loadTemplates(rerender);
  const chosen = catalogue.find((t) => t.name === draft.template);
  const body = h("textarea", { "aria-label": "Email reply", rows: 5, maxlength: 100000 });
  body.value = draft.body;
  body.addEventListener("input", () => (draft.body = body.value));
  const pick = h(
    "select",
    { "aria-label": "Reply template" },
    h("option", { value: "" }, "No template"),
    ...catalogue.map((t) => h("option", { value: t.name }, t.name.replaceAll("_", " "))),
  );
  pick.value = draft.template;
  pick.addEventListener("change", () => {
    draft.template = pick.value;
    rerender();
  });
  const languages = chosen ? chosen.languages : [];
  const lang = h("select", { "aria-label": "Template language" }, ...languages.map((l) => h("option", { value: l }, l)));
  lang.value = languages.includes(draft.language) ? draft.language : languages[0] || "en";
  lang.hidden = !chosen;
  lang.addEventListener("change", () => {
    draft.language = lang.value;
    rerender();
  });
  // What the template puts above the agent's words (placeholders are filled on sending).
  const preview = h("p", { class: "muted template-preview" }, chosen ? chosen.texts[lang.value] || "" : "");
  preview.hidden = !chosen;
  return h(
    "form",
    {
      class: "email-reply",
      "aria-label": "Email reply",
      onsubmit: async (ev) => {
        ev.preventDefault();
        if (!body.value.trim() && !draft.template) {
          notify("Write the reply or pick a template first.", "error");
          return;
        }
        const payload = { body: body.value || null, template: draft.template || null, language: lang.value };
        const res = await attempt(() => api("POST", `/api/v1/interactions/${i.id}/email-reply`, payload));
        if (res) {
          drafts.delete(i.id);
          body.value = "";
          // The relay may have answered already (its frame can beat this response).
          if (!deliveries.has(res.message_id)) notify("Reply queued for sending.", "ok");
          rerender();
        }
      },
    },
    h("label", {}, "Template ", pick),
    lang,
    preview,
    body,
    h("button", { type: "submit" }, "Send reply"),
  );
}

// The pane for an interaction card, or null for voice and other channels.
export function textPane(i, rerender) {
  if (i.channel === "chat" && i.state === "connected") return chatPane(i, rerender);
  if (i.channel === "email" && (i.state === "connected" || i.state === "wrap_up")) return emailPane(i, rerender);
  return null;
}
