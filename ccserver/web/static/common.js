// Shared by the console and the wallboard: REST calls with the CSRF header, the /ws client
// (resume by last seq, heartbeat, reconnect with back-off), safe DOM building, formatting.
// Everything from the server is put on screen with textContent only, so customer data and
// chat text stay inert whatever they contain.

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details || {};
  }
}

export function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return "";
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["X-CSRF-Token"] = cookie("ccs_csrf");
  // A FormData body (a file) goes as multipart: the browser writes its Content-Type.
  const form = typeof FormData !== "undefined" && body instanceof FormData;
  if (body !== undefined && !form) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined || form ? body : JSON.stringify(body),
  });
  let data = null;
  try {
    data = await resp.json();
  } catch {
    data = null;
  }
  if (resp.status === 401 && !path.startsWith("/api/v1/auth/")) {
    toLogin();
    throw new ApiError(401, "unauthenticated", "session expired");
  }
  if (!resp.ok) {
    const e = (data && data.error) || {};
    throw new ApiError(resp.status, e.code || "http_error", e.message || resp.statusText, e.details);
  }
  return data;
}

export function toLogin() {
  const next = location.pathname + location.search;
  location.assign("/login?next=" + encodeURIComponent(next));
}

export async function logout() {
  try {
    await api("POST", "/api/v1/auth/logout");
  } finally {
    location.assign("/login");
  }
}

// --- DOM ------------------------------------------------------------------------------------
// h("div", {class: "x", "aria-label": "y", onclick: fn}, "text", child...) — strings become
// text nodes, never markup.
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function $(id) {
  return document.getElementById(id);
}

export function fill(node, ...children) {
  node.replaceChildren();
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || !isFinite(seconds)) return "–";
  const s = Math.max(0, Math.floor(seconds));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return hh ? `${hh}:${String(mm).padStart(2, "0")}:${ss}` : `${mm}:${ss}`;
}

export function percent(x) {
  return x === null || x === undefined ? "–" : `${Math.round(x * 100)}%`;
}

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString();
}

// Status line for screen readers and sighted users alike (role=status, polite).
export function notify(text, kind = "info") {
  const box = $("status");
  if (!box) return;
  box.className = `status ${kind}`;
  box.textContent = text;
}

export async function attempt(fn) {
  try {
    return await fn();
  } catch (e) {
    notify(e.message || String(e), "error");
    return undefined;
  }
}

// --- offer sound: a short two-tone chime synthesised with WebAudio (no binary asset) -------
let audio = null;
export function unlockAudio() {
  // Browsers only allow sound after a user gesture: call this from a click handler.
  if (!audio && window.AudioContext) audio = new AudioContext();
  if (audio && audio.state === "suspended") audio.resume();
}

export function chime() {
  if (!audio) return;
  const t0 = audio.currentTime;
  for (const [i, freq] of [880, 1320].entries()) {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, t0 + i * 0.18);
    gain.gain.exponentialRampToValueAtTime(0.2, t0 + i * 0.18 + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t0 + i * 0.18 + 0.16);
    osc.connect(gain).connect(audio.destination);
    osc.start(t0 + i * 0.18);
    osc.stop(t0 + i * 0.18 + 0.17);
  }
}

// --- the /ws client ---------------------------------------------------------------------------
// Frames are {type, seq, data}. The last seq seen is kept; a reconnect opens /ws?since=<seq>
// so the hub replays what was missed (or sends a fresh snapshot when its history no longer
// reaches that far). Heartbeat: a ping every 15 s; no frame for 45 s means the link is dead.
export class Live {
  constructor(handlers, { onLink } = {}) {
    this.handlers = handlers;
    this.onLink = onLink || (() => {});
    this.lastSeq = null;
    this.ws = null;
    this.backoff = 500;
    this.stopped = false;
    this.lastFrameAt = 0;
    this.timer = null;
    this.reconnects = 0;
  }

  start() {
    this.connect();
    this.timer = setInterval(() => this.heartbeat(), 5000);
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    const since = this.lastSeq ? `?since=${encodeURIComponent(this.lastSeq)}` : "";
    return `${scheme}//${location.host}/ws${since}`;
  }

  connect() {
    const ws = new WebSocket(this.url());
    this.ws = ws;
    this.onLink("connecting");
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.backoff = 500;
      this.lastFrameAt = Date.now();
      this.onLink("open");
    };
    ws.onmessage = (ev) => {
      this.lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame.seq && frame.type !== "wallboard") this.lastSeq = frame.seq;
      const fn = this.handlers[frame.type];
      if (fn) fn(frame.data, frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.onLink("closed", ev.code);
      if (this.stopped) return;
      if (!opened) {
        // The upgrade was refused: a 401 means the session is gone, anything else is an outage.
        fetch("/api/v1/auth/me", { credentials: "same-origin" })
          .then((r) => r.status === 401 && toLogin())
          .catch(() => {});
      }
      // Back-off with jitter so a restarted server is not hit by every console at once.
      const wait = this.backoff * (0.75 + Math.random() / 2);
      this.backoff = Math.min(this.backoff * 2, 15000);
      this.reconnects += 1;
      setTimeout(() => this.connect(), wait);
    };
  }

  heartbeat() {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return;
    if (Date.now() - this.lastFrameAt > 45000) {
      ws.close(4000, "heartbeat lost");
      return;
    }
    if (Date.now() - this.lastFrameAt > 15000) ws.send(JSON.stringify({ type: "ping" }));
  }

  // For tests and the "reconnect" button: drop the socket; the client comes back by itself.
  drop() {
    if (this.ws) this.ws.close(4001, "client dropped");
  }

  stop() {
    this.stopped = true;
    clearInterval(this.timer);
    if (this.ws) this.ws.close(1000, "bye");
  }
}

// Server time offset: the server sends epoch seconds; ticking timers use local time plus this.
export const clock = {
  offset: 0,
  sync(serverNowSeconds) {
    this.offset = serverNowSeconds * 1000 - Date.now();
  },
  now() {
    return (Date.now() + this.offset) / 1000;
  },
};
