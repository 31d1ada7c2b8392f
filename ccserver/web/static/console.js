// The agent console: own state, offers with the screen pop, call controls, wrap-up, search.
// State arrives on /ws (snapshot, then offer / offer_revoked / interaction / agent_state /
// rona); actions go over REST. Rendering uses textContent only (see common.js h()).
import {
  api, attempt, chime, clock, duration, fill, h, Live, logout, notify, unlockAudio, $,
} from "/static/common.js";
import { consultControls, consultForm, consultResult, initConsult } from "/static/console_consult.js";
import { initCustomerTools, renderPop } from "/static/console_customer.js";
import { initCrmTools, renderCrm } from "/static/console_crm.js";
import {
  chatEnded,
  chatHistory,
  chatLine,
  chatTyping,
  emailDelivery,
  forget,
  textPane,
} from "/static/console_text.js";
import {
  initWrapUp,
  renderDispositions,
  renderReasons,
  renderWrapUp,
  wrapTarget,
  wrapUp,
} from "/static/console_wrapup.js";

const TERMINAL = new Set(["completed", "abandoned"]);
const CALLBACK_RESULTS = {
  answered: "connected",
  manual: "dial the customer from your phone",
  no_answer: "no answer (retried later if the window allows)",
  busy: "busy (retried later if the window allows)",
  failed: "the call could not be placed",
};

const st = {
  agent: null,
  offers: new Map(), // interaction id -> {interaction, expires_at, screen_pop}
  interactions: new Map(), // interaction id -> interaction json
  pops: new Map(), // interaction id -> screen pop (kept after accept)
  dispositions: [],
  selected: null,
  recording: new Set(), // interaction ids this console started recording
};

// --- frames -----------------------------------------------------------------------------------
const live = new Live(
  {
    snapshot(data) {
      setAgent(data.agent);
      st.dispositions = data.dispositions || [];
      st.offers.clear();
      st.interactions.clear();
      for (const i of data.interactions || []) st.interactions.set(i.id, i);
      for (const o of data.offers || []) addOffer(o, false);
      if (st.selected && !st.interactions.has(st.selected)) st.selected = null;
      if (!st.selected) st.selected = [...st.interactions.keys()].at(-1) || null;
      renderDispositions();
      renderReasons(data.not_ready_reasons);
      render();
    },
    resumed(data) {
      if (data.replayed) notify(`Reconnected; ${data.replayed} update(s) caught up.`);
    },
    offer(data) {
      addOffer(data, true);
      render();
    },
    offer_revoked(data) {
      const had = st.offers.delete(data.interaction_id);
      const i = st.interactions.get(data.interaction_id);
      if (i && i.state === "offered") st.interactions.delete(data.interaction_id);
      if (had) notify("The offer was withdrawn.", "warn");
      if (st.selected === data.interaction_id && !st.interactions.has(st.selected)) st.selected = null;
      render();
    },
    rona() {
      notify("Offer not answered in time: you were set not ready.", "warn");
    },
    interaction(data) {
      if (TERMINAL.has(data.state)) {
        st.interactions.delete(data.id);
        forget(data.id);
        st.offers.delete(data.id);
        if (st.selected === data.id) st.selected = [...st.interactions.keys()].at(-1) || null;
      } else {
        st.interactions.set(data.id, data);
        if (data.state !== "offered") st.offers.delete(data.id);
      }
      render();
    },
    chat_message(data) {
      chatLine(data);
      renderInteractions();
    },
    chat_history(data) {
      chatHistory(data);
      renderInteractions();
    },
    chat_typing(data) {
      chatTyping(data);
      renderInteractions();
    },
    chat_ended(data) {
      chatEnded(data);
      renderInteractions();
    },
    consult_result(data) {
      consultResult(data);
    },
    callback_result(data) {
      const text = CALLBACK_RESULTS[data.result] || data.result;
      notify(`Callback to ${data.number}: ${text}.`, data.result === "answered" ? "info" : "warn");
    },
    email_delivery(data) {
      emailDelivery(data);
    },
    agent_state(data) {
      setAgent(data);
      renderHeader();
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
// Tests and support staff can force a reconnect from the devtools: window.ccsLive.drop().
window.ccsLive = live;

function setAgent(agent) {
  if (!agent) return;
  st.agent = agent;
  if (agent.since !== null && agent.since !== undefined) clock.sync(agent.since + agent.time_in_state);
}

function addOffer(o, ring) {
  const id = o.interaction.id;
  st.offers.set(id, o);
  st.pops.set(id, o.screen_pop);
  st.interactions.set(id, o.interaction);
  st.selected = id;
  if (ring) chime();
}

// --- rendering ------------------------------------------------------------------------------
function renderHeader() {
  const a = st.agent;
  if (!a) return;
  $("agent-name").textContent = a.name;
  const badge = $("agent-state");
  badge.textContent = a.state.replace("_", " ");
  badge.className = `badge s-${a.state}`;
  $("agent-reason").textContent = a.state === "not_ready" && a.reason ? `(${a.reason})` : "";
}

function render() {
  renderHeader();
  renderOffers();
  renderInteractions();
  renderWrapUp();
  renderPop();
  renderCrm();
}
st.rerender = render;

function renderOffers() {
  const box = $("offers");
  fill(
    box,
    [...st.offers.values()].map((o) => {
      const i = o.interaction;
      const r = (o.screen_pop && o.screen_pop.routing) || {};
      const who = (o.screen_pop && o.screen_pop.customer && o.screen_pop.customer.name) || i.caller || "Unknown caller";
      return h(
        "div",
        { class: "card offer", role: "alert", "aria-label": `Offer: ${i.channel} from ${who}`, "data-id": i.id },
        h("h3", {}, `Incoming ${i.channel}`),
        h("p", {}, h("strong", {}, who), ` · queue ${r.queue || i.queue || "–"}`),
        h("p", { class: "countdown", "data-expires": o.expires_at, "aria-label": "Time left to accept" }, ""),
        h(
          "div",
          { class: "actions" },
          h("button", { class: "primary", type: "button", "aria-keyshortcuts": "Alt+A", onclick: () => accept(i.id) }, "Accept"),
          h("button", { type: "button", onclick: () => reject(i.id) }, "Reject"),
        ),
      );
    }),
  );
  tickCountdowns();
}

function renderInteractions() {
  const box = $("interactions");
  const rows = [...st.interactions.values()].filter((i) => i.state !== "offered");
  // Frames can arrive while the agent types a transfer target or digits: carry the text,
  // the caret and the focus over to the re-rendered card.
  const active = document.activeElement;
  const typing =
    active && ["INPUT", "TEXTAREA"].includes(active.tagName) && box.contains(active)
      ? { id: active.closest(".card").dataset.id, label: active.getAttribute("aria-label"), value: active.value, caret: active.selectionStart }
      : null;
  fill(
    box,
    rows.map((i) => {
      const selected = st.selected === i.id;
      const controls = [];
      if (i.state === "connected" && i.channel !== "voice") {
        controls.push(
          h("button", { type: "button", class: "danger", onclick: () => control(i.id, "hangup") }, i.channel === "chat" ? "End chat" : "Close"),
          transferForm(i),
        );
      } else if (i.state === "connected" && i.consult) {
        controls.push(...consultControls(i));
      } else if (i.state === "connected") {
        controls.push(
          h("button", { type: "button", "aria-keyshortcuts": "Alt+H", onclick: () => control(i.id, i.held ? "unhold" : "hold") }, i.held ? "Resume" : "Hold"),
          st.recording.has(i.id)
            ? h("button", { type: "button", "aria-pressed": "true", onclick: () => record(i.id, false) }, "Stop recording")
            : h("button", { type: "button", "aria-pressed": "false", onclick: () => record(i.id, true) }, "Record"),
          h("button", { type: "button", class: "danger", onclick: () => control(i.id, "hangup") }, "Hang up"),
          // The customer stays on the line for the keypad survey (CSAT, NPS); you wrap up.
          h("button", { type: "button", onclick: () => control(i.id, "survey") }, "End with survey"),
          transferForm(i),
          consultForm(i),
          dtmfForm(i),
        );
      }
      return h(
        "div",
        {
          class: `card interaction${selected ? " selected" : ""}`,
          "data-id": i.id,
          "aria-label": `${i.channel} interaction, ${i.state}`,
          onclick: (ev) => {
            if (ev.target.closest("button, input, select, form")) return;
            st.selected = i.id;
            render();
          },
        },
        h("h3", {}, `${i.channel} · ${i.caller || "unknown"} `, h("span", { class: `badge s-${i.state}` }, i.held && i.state === "connected" ? "on hold" : i.state.replace("_", " "))),
        h("p", { class: "muted" }, `queue ${i.queue || "–"} · talk `, sinceSpan(i.timestamps.connected || i.timestamps.first_connected)),
        h("div", { class: "actions" }, controls),
        textPane(i, renderInteractions),
      );
    }),
  );
  if (typing) {
    const input = box.querySelector(`.card[data-id="${CSS.escape(typing.id)}"] [aria-label="${typing.label}"]`);
    if (input) {
      input.value = typing.value;
      input.focus();
      if (typing.caret !== null) input.setSelectionRange(typing.caret, typing.caret);
    }
  }
}

// A ticking duration (updated by tick()); filled at once so a re-render never shows a blank.
function sinceSpan(since) {
  return h("span", { class: "since", "data-since": since || "" }, since ? duration(clock.now() - since) : "–");
}

function transferForm(i) {
  const input = h("input", { "aria-label": "Transfer to queue or number", placeholder: "queue or +number", maxlength: 64, size: 12 });
  return h(
    "form",
    {
      class: "inline",
      "aria-label": "Transfer",
      onsubmit: (ev) => {
        ev.preventDefault();
        const target = input.value.trim();
        if (!target) return;
        const body = /^[+0-9][0-9 ()-]*$/.test(target) ? { number: target.replace(/[ ()-]/g, "") } : { queue: target };
        attempt(async () => {
          await api("POST", `/api/v1/interactions/${i.id}/transfer`, body);
          notify(`Transferred to ${target}.`);
          if (body.queue) {
            // A blind transfer ends this leg at once (wrap-up follows); the server does not
            // push an interaction frame for it, so reflect it here.
            const cur = st.interactions.get(i.id);
            if (cur && cur.state === "connected") {
              st.interactions.set(i.id, { ...cur, state: "transferred", timestamps: { ...cur.timestamps, transferred: clock.now() } });
              st.selected = i.id;
              render();
            }
          }
        });
      },
    },
    input,
    h("button", { type: "submit" }, "Transfer"),
  );
}

function dtmfForm(i) {
  const input = h("input", { "aria-label": "DTMF digits", placeholder: "digits", maxlength: 32, size: 6, pattern: "[0-9*#]+" });
  return h(
    "form",
    {
      class: "inline",
      "aria-label": "Send DTMF",
      onsubmit: (ev) => {
        ev.preventDefault();
        if (input.value) control(i.id, "dtmf", { digits: input.value }).then(() => (input.value = ""));
      },
    },
    input,
    h("button", { type: "submit" }, "DTMF"),
  );
}

// --- timers (1 s) ---------------------------------------------------------------------------
function tickCountdowns() {
  for (const el of document.querySelectorAll(".countdown")) {
    const left = Number(el.dataset.expires) - clock.now();
    el.textContent = left > 0 ? `Expires in ${Math.ceil(left)} s` : "Expiring…";
    el.classList.toggle("urgent", left < 5);
  }
}

function tick() {
  if (st.agent && st.agent.since) $("state-timer").textContent = duration(clock.now() - st.agent.since);
  tickCountdowns();
  for (const el of document.querySelectorAll(".since")) {
    const since = Number(el.dataset.since);
    el.textContent = since ? duration(clock.now() - since) : "–";
  }
  const target = wrapTarget();
  const started = target && (target.timestamps.wrap_up || target.timestamps.transferred);
  $("wrapup-timer").textContent = started ? duration(clock.now() - started) : "";
}

// --- actions --------------------------------------------------------------------------------
async function setState(state) {
  unlockAudio();
  const body = state === "not_ready" ? { state, reason: $("reason").value } : { state };
  const agent = await attempt(() => api("POST", "/api/v1/console/state", body));
  if (agent) {
    setAgent(agent);
    renderHeader();
  }
}

async function accept(id) {
  unlockAudio();
  const i = await attempt(() => api("POST", `/api/v1/interactions/${id}/accept`));
  if (i) {
    st.offers.delete(id);
    st.interactions.set(id, i);
    st.selected = id;
    render();
  }
}

async function reject(id) {
  if (await attempt(() => api("POST", `/api/v1/interactions/${id}/reject`))) {
    st.offers.delete(id);
    st.interactions.delete(id);
    render();
  }
}

async function control(id, action, params) {
  const body = { action, ...(params || {}) };
  const res = await attempt(() => api("POST", `/api/v1/interactions/${id}/control`, body));
  if (res) notify(`${action.replace("_", " ")}: done.`);
  return res;
}

async function record(id, on) {
  if (await control(id, on ? "record" : "stop_record")) {
    if (on) st.recording.add(id);
    else st.recording.delete(id);
    renderInteractions();
  }
}

// --- keyboard shortcuts ----------------------------------------------------------------------
function onKey(ev) {
  if (!ev.altKey || ev.ctrlKey || ev.metaKey) return;
  const key = ev.key.toLowerCase();
  const firstOffer = [...st.offers.keys()][0];
  const live_ = [...st.interactions.values()].filter((i) => i.state === "connected");
  const connected = live_.find((i) => i.id === st.selected) || live_[0];
  const actions = {
    r: () => setState("ready"),
    n: () => setState("not_ready"),
    a: () => firstOffer && accept(firstOffer),
    h: () => connected && control(connected.id, connected.held ? "unhold" : "hold"),
    w: () => !$("wrapup").hidden && $("wrapup").requestSubmit(),
    s: () => $("search-q").focus(),
    c: () => !$("crm-actions").hidden && $("btn-complaint").click(),
  };
  if (actions[key]) {
    ev.preventDefault();
    actions[key]();
  }
}

// --- start ----------------------------------------------------------------------------------
function init() {
  renderReasons(null);
  $("btn-ready").addEventListener("click", () => setState("ready"));
  $("btn-not-ready").addEventListener("click", () => setState("not_ready"));
  $("btn-logout").addEventListener("click", async () => {
    await attempt(() => api("POST", "/api/v1/console/state", { state: "logged_out" }));
    live.stop();
    logout();
  });
  $("wrapup").addEventListener("submit", wrapUp);
  initCustomerTools(st);
  initCrmTools(st);
  initConsult(st, control, renderInteractions);
  initWrapUp(st, render);
  document.addEventListener("keydown", onKey);
  // The offer chime needs one user gesture after a page load (browser autoplay rules).
  for (const kind of ["pointerdown", "keydown"]) document.addEventListener(kind, unlockAudio, { once: true });
  setInterval(tick, 1000);
  // Join the contact center unless already in it (a page reload keeps the agent's state),
  // then listen.
  attempt(async () => {
    const snap = await api("GET", "/api/v1/console/snapshot");
    if (snap.agent && snap.agent.state !== "logged_out") return snap;
    return api("POST", "/api/v1/console/login");
  }).then((snap) => {
    if (snap) {
      setAgent(snap.agent);
      st.dispositions = snap.dispositions || [];
      renderDispositions();
      renderHeader();
    }
    live.start();
  });
}

init();
