// The agent console: own state, offers with the screen pop, call controls, wrap-up, search.
// State arrives on /ws (snapshot, then offer / offer_revoked / interaction / agent_state /
// rona); actions go over REST. Rendering uses textContent only (see common.js h()).
import {
  api, attempt, chime, clock, duration, fill, h, Live, logout, notify, unlockAudio, when, $,
} from "/static/common.js";

const REASONS = ["break", "lunch", "training", "meeting", "after_call_work", "coaching"];
const TERMINAL = new Set(["completed", "abandoned"]);

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
        st.offers.delete(data.id);
        if (st.selected === data.id) st.selected = [...st.interactions.keys()].at(-1) || null;
      } else {
        st.interactions.set(data.id, data);
        if (data.state !== "offered") st.offers.delete(data.id);
      }
      render();
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
}

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
    active && active.tagName === "INPUT" && box.contains(active)
      ? { id: active.closest(".card").dataset.id, label: active.getAttribute("aria-label"), value: active.value, caret: active.selectionStart }
      : null;
  fill(
    box,
    rows.map((i) => {
      const selected = st.selected === i.id;
      const controls = [];
      if (i.state === "connected") {
        controls.push(
          h("button", { type: "button", "aria-keyshortcuts": "Alt+H", onclick: () => control(i.id, i.held ? "unhold" : "hold") }, i.held ? "Resume" : "Hold"),
          st.recording.has(i.id)
            ? h("button", { type: "button", "aria-pressed": "true", onclick: () => record(i.id, false) }, "Stop recording")
            : h("button", { type: "button", "aria-pressed": "false", onclick: () => record(i.id, true) }, "Record"),
          h("button", { type: "button", class: "danger", onclick: () => control(i.id, "hangup") }, "Hang up"),
          transferForm(i),
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
        h("h3", {}, `${i.channel} · ${i.caller || "unknown"} `, h("span", { class: `badge s-${i.state}` }, i.held ? "on hold" : i.state.replace("_", " "))),
        h("p", { class: "muted" }, `queue ${i.queue || "–"} · talk `, h("span", { class: "since", "data-since": i.timestamps.connected || i.timestamps.first_connected || "" }, "")),
        h("div", { class: "actions" }, controls),
      );
    }),
  );
  if (typing) {
    const input = box.querySelector(`.card[data-id="${CSS.escape(typing.id)}"] input[aria-label="${typing.label}"]`);
    if (input) {
      input.value = typing.value;
      input.focus();
      if (typing.caret !== null) input.setSelectionRange(typing.caret, typing.caret);
    }
  }
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
        if (input.value) control(i.id, "dtmf", input.value).then(() => (input.value = ""));
      },
    },
    input,
    h("button", { type: "submit" }, "DTMF"),
  );
}

function wrapTarget() {
  const inWrap = [...st.interactions.values()].filter((i) => i.state === "wrap_up" || i.state === "transferred");
  return inWrap.find((i) => i.id === st.selected) || inWrap[0] || null;
}

function renderReasons(configured) {
  // The configured reasons when the server sends them, else the shipped default list.
  const reasons = configured && configured.length ? configured : REASONS;
  const sel = $("reason");
  const current = sel.value;
  fill(sel, reasons.map((r) => h("option", { value: r }, r.replaceAll("_", " "))));
  if (reasons.includes(current)) sel.value = current;
}

function renderDispositions() {
  const sel = $("disposition");
  const current = sel.value;
  fill(sel, h("option", { value: "" }, "— choose —"), st.dispositions.map((d) => h("option", { value: d }, d.replaceAll("_", " "))));
  sel.value = current;
}

function renderWrapUp() {
  const form = $("wrapup");
  const target = wrapTarget();
  form.hidden = !target;
  form.dataset.id = target ? target.id : "";
}

function section(title, items, render, empty) {
  return h("section", { class: "pop-section", "aria-label": title }, h("h3", {}, title), items && items.length ? h("ul", { class: "list" }, items.map((x) => h("li", {}, render(x)))) : h("p", { class: "muted" }, empty));
}

function renderPop() {
  const body = $("pop-body");
  const pop = st.selected ? st.pops.get(st.selected) : null;
  if (!pop) {
    fill(body, h("p", { class: "muted" }, "No interaction selected."));
    return;
  }
  const r = pop.routing || {};
  const c = pop.customer;
  const inputs = Object.entries(r.ivr_inputs || {}).map(([k, v]) => `${k}=${v}`).join(", ");
  const why = h(
    "section",
    { class: "pop-section", "aria-label": "Why routed here" },
    h("h3", {}, "Why here"),
    h("dl", { class: "kv" },
      h("dt", {}, "Queue"), h("dd", {}, r.queue || "–"),
      h("dt", {}, "Caller"), h("dd", {}, r.caller || "–"),
      h("dt", {}, "IVR path"), h("dd", {}, (r.ivr_path || []).join(" › ") || "–"),
      h("dt", {}, "IVR inputs"), h("dd", {}, inputs || "–"),
      h("dt", {}, "Waited"), h("dd", {}, r.waited_s !== undefined ? duration(r.waited_s) : "–"),
      h("dt", {}, "EWT at arrival"), h("dd", {}, r.ewt_at_arrival !== null && r.ewt_at_arrival !== undefined ? duration(r.ewt_at_arrival) : "–"),
      r.subject ? [h("dt", {}, "Subject"), h("dd", {}, r.subject)] : null,
    ),
  );
  if (!c) {
    fill(body, h("div", { class: "card unknown", id: "customer-card", "aria-label": "Unknown caller" },
      h("h3", {}, "Unknown caller"),
      h("p", {}, `No customer matches ${r.caller || "this contact"}.`),
      h("div", { class: "actions" },
        h("button", { type: "button", onclick: () => openCreate(r.caller) }, "Create customer"),
        h("button", { type: "button", onclick: () => openLink(r.caller) }, "Link to existing"),
      )), why);
    return;
  }
  const consent = Object.entries(c.consent || {}).map(([k, v]) => h("span", { class: `flag ${v ? "yes" : "no"}`, "aria-label": `${k} consent ${v ? "given" : "not given"}` }, `${v ? "✓" : "✗"} ${k}`));
  const card = h(
    "div",
    { class: "card customer", id: "customer-card", "aria-label": "Customer card" },
    h("h3", { id: "customer-name" }, c.name),
    h("dl", { class: "kv" },
      h("dt", {}, "Customer no."), h("dd", { id: "customer-number" }, c.customer_number),
      h("dt", {}, "Tier / segment"), h("dd", {}, `${c.tier || "–"} / ${c.segment || "–"}`),
      h("dt", {}, "Lifetime value"), h("dd", {}, c.lifetime_value !== null ? c.lifetime_value.toLocaleString() : "–"),
      h("dt", {}, "Language"), h("dd", {}, c.preferred_language || "–"),
      c.company ? [h("dt", {}, "Company"), h("dd", {}, c.company)] : null,
    ),
    h("p", { class: "flags", "aria-label": "Consent" }, consent),
  );
  fill(
    body,
    card,
    why,
    h("div", { id: "complaints" }, section("Open complaints", pop.complaints, (x) => [h("strong", {}, x.case_number), ` ${x.category}/${x.subcategory} · ${x.severity} · ${x.status}`, h("div", { class: "muted" }, x.description)], "None open.")),
    section("Last contacts", pop.contacts, (x) => [`${when(x.started_at)} · ${x.channel} ${x.direction} · ${x.outcome || ""} ${x.disposition || ""}`, x.notes ? h("div", { class: "muted" }, x.notes) : null], "No earlier contacts."),
    section("Recent orders", pop.orders, (x) => `${x.order_number} · ${x.status} · ${x.total ?? "–"} ${x.currency || ""} · ${x.delivered_at ? "delivered " + when(x.delivered_at) : x.shipped_at ? "shipped " + when(x.shipped_at) + (x.carrier ? " via " + x.carrier : "") : "not shipped"}`, "No orders."),
    section("Pending follow-ups", pop.follow_ups, (x) => `${x.purpose} · ${x.channel || ""} · ${x.status} · from ${when(x.window_start)}`, "None pending."),
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

async function control(id, action, digits) {
  const body = digits ? { action, digits } : { action };
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

async function wrapUp(ev) {
  ev.preventDefault();
  const target = wrapTarget();
  if (!target) return;
  const disposition = $("disposition").value;
  if (!disposition) {
    notify("Choose a disposition before finishing wrap-up.", "error");
    $("disposition").focus();
    return;
  }
  const body = { disposition, notes: $("notes").value || null, fcr: $("fcr").checked };
  const done = await attempt(() => api("POST", `/api/v1/interactions/${target.id}/wrap-up`, body));
  if (done) {
    st.interactions.delete(target.id);
    if (st.selected === target.id) st.selected = null;
    $("wrapup").reset();
    notify("Wrap-up saved.");
    render();
  }
}

// --- customer search / create / link -------------------------------------------------------
function resultItems(data) {
  if (Array.isArray(data)) return data;
  return (data && (data.items || data.customers || data.results)) || [];
}

async function search(q) {
  const data = await attempt(() => api("GET", `/api/v1/customers?q=${encodeURIComponent(q)}&limit=20`));
  if (data === undefined) return [];
  const items = resultItems(data);
  fill(
    $("search-results"),
    items.length
      ? items.map((c) => h("li", {}, h("button", { type: "button", class: "link-button", onclick: () => chooseCustomer(c) }, `${c.display_name} · ${c.customer_number}`)))
      : h("li", { class: "muted" }, "No match."),
  );
  return items;
}

let linkingNumber = null;

function openCreate(number) {
  const form = $("create-form");
  form.hidden = false;
  $("new-phone").value = number || "";
  $("new-name").focus();
}

function openLink(number) {
  linkingNumber = number || null;
  $("search-q").value = "";
  $("search-q").focus();
  notify("Search for the customer, then choose them to link this number.");
}

async function chooseCustomer(c) {
  if (linkingNumber) {
    const number = linkingNumber;
    linkingNumber = null;
    await attempt(async () => {
      await api("POST", `/api/v1/customers/${c.id}/identities`, { kind: "phone", value: number });
      notify(`${number} linked to ${c.display_name}.`);
    });
  }
  showCustomer(c);
}

function showCustomer(c) {
  // Put the chosen customer on the selected interaction's pop (or a standalone view).
  const key = st.selected || "search";
  const old = st.pops.get(key) || { routing: {}, complaints: [], contacts: [], orders: [], follow_ups: [] };
  st.pops.set(key, {
    ...old,
    customer: {
      id: c.id,
      name: c.display_name,
      customer_number: c.customer_number,
      tier: c.tier,
      segment: c.segment,
      company: c.company,
      lifetime_value: c.lifetime_value === null || c.lifetime_value === undefined ? null : Number(c.lifetime_value),
      preferred_language: c.preferred_language,
      consent: { phone: c.consent_phone, email: c.consent_email, sms: c.consent_sms, survey: c.consent_survey, marketing: c.consent_marketing },
    },
  });
  st.selected = key;
  renderPop();
}

async function createCustomer(ev) {
  ev.preventDefault();
  const phone = $("new-phone").value.trim();
  const email = $("new-email").value.trim();
  const body = { display_name: $("new-name").value.trim(), phones: phone ? [phone] : [], emails: email ? [email] : [] };
  if (!body.display_name) {
    notify("A name is needed.", "error");
    return;
  }
  try {
    const c = await api("POST", "/api/v1/customers", body);
    $("create-form").reset();
    $("create-form").hidden = true;
    notify(`Customer ${c.customer_number || ""} created.`);
    showCustomer(c);
  } catch (e) {
    if (e.status === 409 && e.details && e.details.existing_id) notify(`Already a customer (${e.details.customer_number}); use Link to existing.`, "warn");
    else if (e.status === 422 && e.details && e.details.fields) notify(`Check: ${Object.keys(e.details.fields).join(", ")}`, "error");
    else notify(e.message, "error");
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
  $("create-form").addEventListener("submit", createCustomer);
  $("search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = $("search-q").value.trim();
    if (q) search(q);
  });
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
