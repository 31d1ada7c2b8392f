// The supervisor wallboard: queues, agents and live interactions from coalesced `wallboard`
// frames (at most 2 a second, always the newest state), alerts pushed as `alert` frames, and
// the supervisor's actions over REST (monitor, force state, move / re-prioritise).
import { api, attempt, clock, duration, fill, h, Live, logout, notify, percent, $ } from "/static/common.js";

// Colour thresholds (green / amber / red); the routing config holds the real targets, these
// are the usual contact-center defaults for a glance.
const T = {
  sl: [0.8, 0.6], // at or above 80% green, below 60% red
  wait: [30, 90], // seconds of the longest wait
  abandon: [0.05, 0.1],
};
// Not-ready reasons must be configured ones (routing.toml [agents] not_ready_reasons).
const REASONS = ["coaching", "meeting", "training", "break", "lunch", "after_call_work"];
const HISTORY_S = 3600;
const SAMPLE_EVERY_S = 5;

const st = { board: null, history: new Map(), alerts: [], names: new Map() };

const live = new Live(
  {
    snapshot() {},
    wallboard(data) {
      st.board = data;
      if (data.at) clock.sync(data.at);
      for (const a of data.agents || []) st.names.set(a.id, a.name);
      sample(data);
      render();
    },
    alert(data) {
      st.alerts.unshift({ ...data, received: new Date() });
      st.alerts = st.alerts.slice(0, 50);
      renderAlerts();
      if (window.ccsCrmAlert) window.ccsCrmAlert(data);
    },
    error(data) {
      notify(`Server: ${data.message}`, "error");
    },
  },
  {
    onLink(state) {
      const el = $("link");
      el.className = `link ${state}`;
      el.setAttribute("aria-label", `Connection: ${state}`);
    },
  },
);
window.ccsLive = live;
// The CRM lists (supervisor_crm.js) name agents from the wallboard where it knows them.
window.ccsAgentNames = st.names;

// --- history for the charts (kept in the browser, one point per 5 s per queue) ---------------
function sample(board) {
  const now = board.at || Date.now() / 1000;
  for (const q of board.queues || []) {
    const points = st.history.get(q.queue) || [];
    const last = points.at(-1);
    const point = { t: now, waiting: q.waiting, sl: q.last_15m ? q.last_15m.service_level : null };
    if (last && now - last.t < SAMPLE_EVERY_S) points[points.length - 1] = { ...point, t: last.t };
    else points.push(point);
    while (points.length && now - points[0].t > HISTORY_S) points.shift();
    st.history.set(q.queue, points);
  }
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  return n;
}

function chart(queue) {
  const W = 160, H = 36;
  const points = st.history.get(queue) || [];
  const box = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: "spark", role: "img", "aria-label": `${queue}: waiting and service level over the last hour` });
  box.append(svg("rect", { x: 0, y: 0, width: W, height: H, class: "spark-bg" }));
  if (points.length < 2) return box;
  const t1 = points.at(-1).t, t0 = t1 - HISTORY_S;
  const maxWait = Math.max(1, ...points.map((p) => p.waiting));
  const x = (t) => ((t - t0) / HISTORY_S) * W;
  const line = (sel, scale) =>
    points.filter((p) => sel(p) !== null && sel(p) !== undefined).map((p) => `${x(p.t).toFixed(1)},${(H - 2 - scale(sel(p)) * (H - 4)).toFixed(1)}`).join(" ");
  box.append(svg("polyline", { points: line((p) => p.waiting, (v) => v / maxWait), class: "spark-wait", fill: "none" }));
  box.append(svg("polyline", { points: line((p) => p.sl, (v) => v), class: "spark-sl", fill: "none" }));
  return box;
}

// --- colours --------------------------------------------------------------------------------
function higherIsBetter(value, [good, bad]) {
  if (value === null || value === undefined) return "";
  return value >= good ? "ok" : value < bad ? "bad" : "warn";
}
function lowerIsBetter(value, [good, bad]) {
  if (value === null || value === undefined) return "";
  return value <= good ? "ok" : value > bad ? "bad" : "warn";
}

// --- rendering ------------------------------------------------------------------------------
// Frames arrive twice a second: rows are replaced, except a row the supervisor is working in
// (focus inside, or a control changed and not yet applied), whose action cell is kept so a
// half-chosen queue or priority is not wiped by the next frame.
function patchRows(tbody, rows, key) {
  const old = [...tbody.rows];
  const same = old.length === rows.length && old.every((r, i) => r.dataset[key] === rows[i].dataset[key]);
  if (!same) {
    fill(tbody, rows);
    return;
  }
  old.forEach((r, i) => {
    if (!(r.contains(document.activeElement) || r.dataset.dirty)) {
      r.replaceWith(rows[i]);
      return;
    }
    const cells = [...rows[i].cells];
    for (let c = 0; c < cells.length - 1; c++) r.cells[c].replaceWith(cells[c]);
  });
}

function markDirty(ev) {
  const row = ev.target.closest("tr");
  if (row) row.dataset.dirty = "1";
}

function render() {
  const b = st.board;
  if (!b) return;
  $("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  renderQueues(b);
  renderAgents(b);
  renderInteractions(b);
}

function counts(agents, queue) {
  const c = { ready: 0, busy: 0, not_ready: 0 };
  for (const a of agents) {
    if (a.state === "logged_out") continue;
    if (a.queues && a.queues.length && !a.queues.includes(queue)) continue;
    if (a.state === "ready") c.ready += 1;
    else if (["busy", "reserved", "wrap_up"].includes(a.state)) c.busy += 1;
    else c.not_ready += 1;
  }
  return c;
}

function renderQueues(b) {
  fill(
    $("queues").tBodies[0],
    (b.queues || []).map((q) => {
      const m = q.last_15m || {};
      const d = q.today || {};
      const c = counts(b.agents || [], q.queue);
      const abandon = d.offered ? d.abandoned / d.offered : null;
      return h(
        "tr",
        { "data-queue": q.queue },
        h("th", { scope: "row" }, q.queue),
        h("td", { class: `num waiting ${q.waiting > 0 ? "warn" : ""}` }, q.waiting),
        h("td", { class: `num ${lowerIsBetter(q.oldest_wait, T.wait)}` }, duration(q.oldest_wait)),
        h("td", { class: "num" }, q.ewt === null ? "–" : duration(q.ewt)),
        h("td", { class: "num ready" }, c.ready),
        h("td", { class: "num busy" }, c.busy),
        h("td", { class: "num not-ready" }, c.not_ready),
        h("td", { class: `num ${higherIsBetter(m.service_level, T.sl)}` }, percent(m.service_level)),
        h("td", { class: `num ${higherIsBetter(d.service_level, T.sl)}` }, percent(d.service_level)),
        h("td", { class: "num" }, m.asa === null || m.asa === undefined ? "–" : duration(m.asa)),
        h("td", { class: `num ${lowerIsBetter(abandon, T.abandon)}` }, percent(abandon)),
        h("td", { class: "num" }, `${d.offered ?? 0} / ${d.answered ?? 0}`),
        h("td", {}, chart(q.queue)),
      );
    }),
  );
}

function renderAgents(b) {
  const byId = new Map((b.interactions || []).map((i) => [i.id, i]));
  patchRows(
    $("agents").tBodies[0],
    (b.agents || []).map((a) => {
      const cur = (a.interactions || []).map((id) => byId.get(id)).filter(Boolean);
      const actions = [];
      if (a.state !== "logged_out") {
        actions.push(
          h("button", { type: "button", "aria-label": `Force ${a.name} not ready`, onclick: () => force(a, "not_ready") }, "Not ready"),
          h("button", { type: "button", "aria-label": `Log ${a.name} out`, onclick: () => force(a, "logged_out") }, "Log out"),
        );
      }
      return h(
        "tr",
        { "data-agent": a.id },
        h("th", { scope: "row" }, a.name),
        h("td", { class: "agent-state" }, h("span", { class: `badge s-${a.state}` }, a.state.replace("_", " "))),
        h("td", { class: "num since", "data-since": a.since ?? "" }, a.since ? duration(clock.now() - a.since) : "–"),
        h("td", {}, a.reason || ""),
        h("td", {}, cur.map((i) => `${i.channel} ${i.caller || ""} (${i.state})`).join(", ") || "–"),
        h("td", { class: "num" }, percent(a.occupancy)),
        h("td", { class: "num" }, a.handled_today),
        h("td", { class: "num" }, a.aht === null ? "–" : duration(a.aht)),
        h("td", { class: "actions" }, actions),
      );
    }),
    "agent",
  );
}

function renderInteractions(b) {
  const queues = (b.queues || []).map((q) => q.queue);
  // An offered interaction has no agent yet: name the agent it is ringing.
  const holder = new Map();
  for (const a of b.agents || []) for (const id of a.interactions || []) holder.set(id, a.name);
  patchRows(
    $("interactions").tBodies[0],
    (b.interactions || [])
      .filter((i) => !["completed", "abandoned"].includes(i.state))
      .map((i) => {
        const actions = [];
        if (i.state === "connected" && i.channel === "chat") {
          const note = h("input", { "aria-label": "Whisper to the agent", placeholder: "note to agent", maxlength: 2000, size: 14, oninput: markDirty });
          actions.push(
            note,
            h("button", { type: "button", onclick: () => chatWhisper(i, note) }, "Whisper"),
            h("button", { type: "button", "aria-label": `Transcript of ${i.caller || i.id}`, onclick: () => watch(i) }, "Transcript"),
          );
        } else if (i.state === "connected") {
          for (const mode of ["listen", "whisper", "barge"]) {
            actions.push(h("button", { type: "button", "data-mode": mode, "aria-label": `${mode} on ${i.caller || i.id}`, onclick: () => monitor(i, mode) }, mode));
          }
        }
        if (i.state === "queued") {
          const sel = h("select", { "aria-label": "Move to queue", onchange: markDirty }, queues.map((q) => h("option", { value: q, selected: q === i.queue }, q)));
          const prio = h("input", { type: "number", min: -100, max: 100, value: i.priority, size: 4, "aria-label": "Priority", oninput: markDirty });
          actions.push(
            sel,
            prio,
            h("button", { type: "button", onclick: () => move(i, sel.value, Number(prio.value)) }, "Move"),
          );
        }
        const start = i.timestamps.first_queued || i.timestamps.new;
        return h(
          "tr",
          { "data-interaction": i.id },
          h("td", {}, i.channel),
          h("td", {}, h("span", { class: `badge s-${i.state}` }, i.held && i.state === "connected" ? "on hold" : i.state.replace("_", " "))),
          h("td", {}, i.queue || "–"),
          h("td", { class: "num" }, i.priority),
          h("td", {}, i.caller || "–"),
          h("td", {}, i.agent_id ? st.names.get(i.agent_id) || i.agent_id : holder.get(i.id) || "–"),
          h("td", { class: "num since", "data-since": start ?? "" }, start ? duration(clock.now() - start) : "–"),
          h("td", { class: "actions" }, actions),
        );
      }),
    "interaction",
  );
}

function renderAlerts() {
  fill(
    $("alerts"),
    st.alerts.length
      ? st.alerts.map((a) => h("li", { class: `alert ${a.kind || ""}` }, `${a.received.toLocaleTimeString()} · ${a.message || a.kind}`))
      : h("li", { class: "muted" }, "No alerts."),
  );
}

function tick() {
  for (const el of document.querySelectorAll(".since")) {
    const since = Number(el.dataset.since);
    if (since) el.textContent = duration(clock.now() - since);
  }
}

// --- actions --------------------------------------------------------------------------------
async function monitor(i, mode) {
  const res = await attempt(() => api("POST", `/api/v1/supervisor/interactions/${i.id}/monitor`, { mode }));
  if (res) notify(`${mode}: connected to ${i.caller || i.id}.`, "ok");
}

async function chatWhisper(i, input) {
  const text = input.value.trim();
  if (!text) return;
  const ok = await attempt(() => api("POST", `/api/v1/supervisor/interactions/${i.id}/whisper`, { text }));
  const row = input.closest("tr");
  if (row) delete row.dataset.dirty;
  if (ok) {
    input.value = "";
    notify("Whisper sent to the agent.", "ok");
  }
}

async function watch(i) {
  const t = await attempt(() => api("GET", `/api/v1/supervisor/interactions/${i.id}/chat`));
  if (!t) return;
  const box = $("transcript");
  box.hidden = false;
  fill(
    $("transcript-lines"),
    (t.lines || []).map((l) => h("li", {}, h("strong", {}, l.whisper ? `${l.name || "supervisor"} (whisper)` : l.name || l.from), ": ", l.text)),
  );
  $("transcript-title").textContent = `Transcript: ${i.caller || i.id}`;
}

async function force(a, state) {
  const res = await attempt(() => api("POST", `/api/v1/supervisor/agents/${a.id}/force`, { state, reason: $("force-reason").value }));
  if (res) notify(`${a.name} is now ${res.state.replace("_", " ")}.`, "ok");
}

async function move(i, queue, priority) {
  const body = { queue, priority: Number.isFinite(priority) ? priority : null };
  const ok = await attempt(() => api("POST", `/api/v1/supervisor/interactions/${i.id}/move`, body));
  const row = document.querySelector(`tr[data-interaction="${CSS.escape(i.id)}"]`);
  if (row) delete row.dataset.dirty; // the next frame shows the result (or the old values)
  if (ok) notify(`Moved to ${queue} (priority ${priority}).`, "ok");
}

async function init() {
  $("transcript-close").addEventListener("click", () => ($("transcript").hidden = true));
  fill($("force-reason"), REASONS.map((r) => h("option", { value: r }, r.replaceAll("_", " "))));
  $("btn-logout").addEventListener("click", () => {
    live.stop();
    logout();
  });
  const me = await attempt(() => api("GET", "/api/v1/auth/me"));
  if (me) $("who").textContent = me.display_name;
  setInterval(tick, 1000);
  live.start();
}

init();
