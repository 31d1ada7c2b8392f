// CRM workflows in the console: file a complaint from the screen pop during a call (linked to
// the call's contact; the case number is shown), schedule a follow-up with the wrap-up, and
// the customer's contact history with channel and date filters. The choices (taxonomy,
// severities, follow-up channels) come from GET /api/v1/ui/crm-options, i.e. crm.toml.
import { api, attempt, cookie, duration, fill, h, notify, when, $ } from "/static/common.js";

let st = null; // the console's state
let options = { categories: {}, severities: [], validity: [], followup_channels: ["phone", "email", "visit"] };

export async function initCrmTools(state) {
  st = state;
  $("btn-complaint").addEventListener("click", openComplaint);
  $("btn-history").addEventListener("click", () => showHistory(true));
  $("cmp-cancel").addEventListener("click", closeComplaint);
  $("cmp-category").addEventListener("change", renderSubcategories);
  $("complaint-form").addEventListener("submit", fileComplaint);
  $("history-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    showHistory(false);
  });
  $("fu-on").addEventListener("change", () => {
    $("fu-fields").hidden = !$("fu-on").checked;
    if ($("fu-on").checked && !$("fu-from").value) defaultWindow();
  });
  const got = await attempt(() => api("GET", "/api/v1/ui/crm-options"));
  if (got) options = got;
  fill($("cmp-category"), h("option", { value: "" }, "— choose —"), Object.keys(options.categories).map((c) => h("option", { value: c }, c)));
  renderSubcategories();
  fill($("cmp-severity"), options.severities.map((s) => h("option", { value: s.name, selected: s.name === "normal" }, `${s.name} (SLA ${s.sla_hours} h)`)));
  fill($("fu-channel"), options.followup_channels.map((c) => h("option", { value: c }, c)));
}

// The customer and contact the console is looking at: the selected interaction's screen pop
// (or a customer chosen in the search), and the interaction's own contact when it is a call.
function current() {
  const pop = st.selected ? st.pops.get(st.selected) : null;
  const i = st.selected ? st.interactions.get(st.selected) : null;
  const customerId = (pop && pop.customer && pop.customer.id) || (i && i.customer_id) || null;
  return { pop, interaction: i, customerId, contactId: i ? i.contact_id : null };
}

// Called on every console render: the complaint / history buttons need a customer.
let shownFor = null; // the selection the complaint form and result belong to

export function renderCrm() {
  const { customerId } = current();
  if (st.selected !== shownFor) {
    // Another interaction (or customer) is on screen: a half-filled complaint or the last
    // case number belongs to the previous one.
    shownFor = st.selected;
    $("complaint-result").textContent = "";
    if (!$("complaint-form").hidden) closeComplaint();
  }
  $("crm-actions").hidden = !customerId;
  if (!customerId) {
    $("complaint-form").hidden = true;
    $("history").hidden = true;
  } else if (!$("history").hidden && $("history").dataset.customer !== customerId) {
    showHistory(true);
  }
}

function renderSubcategories() {
  const subs = options.categories[$("cmp-category").value] || [];
  fill($("cmp-subcategory"), h("option", { value: "" }, "— choose —"), subs.map((s) => h("option", { value: s }, s)));
}

function openComplaint() {
  const form = $("complaint-form");
  form.hidden = false;
  $("complaint-result").textContent = "";
  $("cmp-category").focus();
}

function closeComplaint() {
  $("complaint-form").reset();
  renderSubcategories();
  $("complaint-form").hidden = true;
}

async function fileComplaint(ev) {
  ev.preventDefault();
  const { customerId, contactId, pop } = current();
  if (!customerId) {
    notify("Identify the customer first.", "error");
    return;
  }
  const body = {
    customer_id: customerId,
    category: $("cmp-category").value,
    subcategory: $("cmp-subcategory").value,
    severity: $("cmp-severity").value || "normal",
    description: $("cmp-description").value.trim(),
  };
  const missing = ["category", "subcategory", "description"].filter((k) => !body[k]);
  if (missing.length) {
    notify(`Complete the complaint: ${missing.join(", ")}.`, "error");
    $(missing[0] === "description" ? "cmp-description" : `cmp-${missing[0]}`).focus();
    return;
  }
  const order = $("cmp-order").value.trim();
  if (order) body.order_ref = order;
  if (contactId) body.contact_id = contactId;
  const c = await attempt(() => api("POST", "/api/v1/complaints", body));
  if (!c) return;
  const files = [...$("cmp-files").files];
  for (const file of files) {
    const sent = await attempt(() => upload(`/api/v1/complaints/${c.id}/attachments`, file));
    if (!sent) break;
  }
  $("cmp-files").value = "";
  closeComplaint();
  $("complaint-result").textContent = `Complaint filed: case ${c.case_number}`;
  notify(`Complaint ${c.case_number} filed.`, "ok");
  if (pop) pop.complaints = [c, ...(pop.complaints || [])];
  st.rerender();
}

async function upload(path, file) {
  // multipart: the browser sets the boundary; the CSRF header is added as for api().
  const form = new FormData();
  form.append("file", file, file.name);
  const resp = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": cookie("ccs_csrf"), Accept: "application/json" },
    body: form,
  });
  const data = await resp.json().catch(() => null);
  if (!resp.ok) throw new Error((data && data.error && data.error.message) || resp.statusText);
  return data;
}

// --- follow-up with the wrap-up ---------------------------------------------------------------
function localInput(d) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

function defaultWindow() {
  // Tomorrow 10:00-12:00 local time: a sensible first suggestion the agent can change.
  const from = new Date();
  from.setDate(from.getDate() + 1);
  from.setHours(10, 0, 0, 0);
  $("fu-from").value = localInput(from);
  $("fu-until").value = localInput(new Date(from.getTime() + 2 * 3600 * 1000));
}

// Checked before the wrap-up is sent, so a bad follow-up does not lose the wrap-up: null when
// fine (or not wanted), else the problem to show.
export function followUpProblem() {
  if (!$("fu-on").checked) return null;
  if (!$("fu-purpose").value.trim()) return "Give the follow-up a purpose.";
  if (!$("fu-from").value) return "Choose when the follow-up starts.";
  const until = $("fu-until").value;
  if (until && new Date(until) <= new Date($("fu-from").value)) return "The follow-up window must end after it starts.";
  return null;
}

// After a successful wrap-up of interaction `i`: create the follow-up the agent asked for.
export async function scheduleFollowUp(i) {
  if (!$("fu-on").checked) return null;
  const pop = st.pops.get(i.id);
  const customerId = (pop && pop.customer && pop.customer.id) || i.customer_id;
  if (!customerId) {
    notify("No customer on this contact: the follow-up was not scheduled.", "warn");
    return null;
  }
  const body = {
    customer_id: customerId,
    purpose: $("fu-purpose").value.trim(),
    channel: $("fu-channel").value || "phone",
    scheduled_at: new Date($("fu-from").value).toISOString(),
    contact_id: i.contact_id || null,
  };
  if ($("fu-until").value) body.window_end = new Date($("fu-until").value).toISOString();
  const fu = await attempt(() => api("POST", "/api/v1/follow-ups", body));
  $("fu-fields").hidden = true;
  if (fu) notify(`Wrap-up saved; follow-up (${fu.channel}) planned for ${when(fu.window_start)}.`, "ok");
  return fu;
}

// --- contact history ------------------------------------------------------------------------
async function showHistory(reset) {
  const { customerId, pop } = current();
  if (!customerId) return;
  const box = $("history");
  box.hidden = false;
  box.dataset.customer = customerId;
  if (reset) $("history-form").reset();
  const q = new URLSearchParams({ customer_id: customerId, limit: "50" });
  if ($("hist-channel").value) q.set("channel", $("hist-channel").value);
  // Dates are whole local days: from midnight to the end of the "to" day.
  if ($("hist-from").value) q.set("from", new Date(`${$("hist-from").value}T00:00:00`).toISOString());
  if ($("hist-to").value) q.set("to", new Date(`${$("hist-to").value}T23:59:59.999`).toISOString());
  const data = await attempt(() => api("GET", `/api/v1/contacts?${q}`));
  if (!data) return;
  const items = data.items || [];
  $("history-who").textContent = `${(pop && pop.customer && pop.customer.name) || "Customer"}: ${items.length} contact(s)${data.total !== undefined ? ` of ${data.total}` : ""}`;
  fill(
    $("history-list"),
    items.length
      ? items.map((c) =>
          h(
            "li",
            { class: "contact", "data-channel": c.channel },
            h("strong", {}, `${when(c.started_at)} · ${c.channel} ${c.direction}`),
            ` · ${c.queue || "–"} · ${c.outcome || ""} ${c.disposition || ""}${c.talk_s ? " · talk " + duration(c.talk_s) : ""}${c.case_number ? " · case " + c.case_number : ""}`,
            c.notes ? h("div", { class: "muted" }, c.notes) : null,
          ),
        )
      : h("li", { class: "muted" }, "No contacts match."),
  );
}
