// The customer side of the console: the screen pop (customer card, why routed here,
// complaints, contacts, orders, follow-ups), the unknown-caller card, customer search, and
// "create customer" / "link to existing" for a number nobody owns yet. Text only, no markup.
import { api, attempt, duration, fill, h, notify, when, $ } from "/static/common.js";

let st = null; // the console's state (selected interaction, pops by interaction id)

export function initCustomerTools(state) {
  st = state;
  $("create-form").addEventListener("submit", createCustomer);
  $("search-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = $("search-q").value.trim();
    if (q) search(q);
  });
}

function section(title, items, render, empty) {
  return h("section", { class: "pop-section", "aria-label": title }, h("h3", {}, title), items && items.length ? h("ul", { class: "list" }, items.map((x) => h("li", {}, render(x)))) : h("p", { class: "muted" }, empty));
}

// The screen pop of the selected interaction (or of a customer chosen from the search).
export function renderPop() {
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
      h("dt", {}, "IVR path"), h("dd", {}, (r.ivr_path || []).map((n) => (n && typeof n === "object" ? n.node : n)).join(" › ") || "–"),
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
  if (st.rerender) st.rerender();
  else renderPop();
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
