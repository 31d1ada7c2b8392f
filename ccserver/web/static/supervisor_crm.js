// CRM workflows on the supervisor pages: the complaints list (overdue / escalated rows
// highlighted) with the life-cycle actions and the PDCA close form, the follow-ups list, and
// the KPI report (table, a small inline-SVG chart, CSV / XLSX export links). Complaint SLA
// alerts pushed on /ws (kind "complaint_sla") refresh the list; see supervisor.js.
import { api, attempt, duration, fill, h, notify, percent, when, $ } from "/static/common.js";

const OPEN = new Set(["received", "acknowledged", "investigating", "resolved", "customer_feedback"]);
const OPEN_FOLLOWUPS = new Set(["planned", "due", "in_progress"]);
const REFRESH_MS = 30000;
let options = { validity: [] };
let me = null;

// --- complaints -----------------------------------------------------------------------------
async function loadComplaints() {
  const show = $("cmp-show").value;
  const q = new URLSearchParams({ limit: "200" });
  if (show === "overdue") q.set("overdue", "true");
  else if (!["open", "all"].includes(show)) q.set("status", show);
  const data = await attempt(() => api("GET", `/api/v1/complaints?${q}`));
  if (!data) return;
  let items = data.items || [];
  if (show === "open") items = items.filter((c) => OPEN.has(c.status));
  renderComplaints(items);
}

function short(id) {
  if (!id) return "–";
  if (me && id === me.user_id) return "me";
  const names = window.ccsAgentNames;
  return (names && names.get(id)) || id.slice(-6);
}

function actionButtons(c) {
  const act = (action, label, extra) => h("button", { type: "button", "aria-label": `${label} ${c.case_number}`, onclick: () => step(c, action, extra ? extra() : {}) }, label);
  const out = [];
  if (c.status === "received") out.push(act("acknowledge", "Acknowledge"));
  if (c.status === "acknowledged") out.push(act("investigate", "Investigate"));
  if (c.status === "investigating") {
    const validity = h("select", { "aria-label": `Validity of ${c.case_number}` }, h("option", { value: "" }, "validity…"), options.validity.map((v) => h("option", { value: v, selected: v === c.validity }, v.replaceAll("_", " "))));
    const resolution = h("input", { "aria-label": `Resolution of ${c.case_number}`, placeholder: "resolution", maxlength: 10000, size: 18 });
    out.push(
      validity,
      h("button", { type: "button", "aria-label": `Assess ${c.case_number}`, onclick: () => validity.value ? step(c, "assess", { validity: validity.value }) : notify("Choose a validity first.", "error") }, "Assess"),
      resolution,
      h("button", { type: "button", "aria-label": `Resolve ${c.case_number}`, onclick: () => resolution.value.trim() ? step(c, "resolve", { resolution: resolution.value.trim() }) : notify("Write the resolution first.", "error") }, "Resolve"),
    );
  }
  if (c.status === "resolved") out.push(act("feedback", "Customer feedback"));
  if (c.status === "customer_feedback") out.push(h("button", { type: "button", class: "primary", "aria-label": `Close ${c.case_number}`, onclick: () => openPdca(c) }, "Close…"));
  if (["resolved", "customer_feedback", "closed"].includes(c.status)) out.push(act("reopen", "Reopen"));
  if (OPEN.has(c.status) && (!me || c.owner_id !== me.user_id)) out.push(act("assign", "Take", () => ({ owner_id: me ? me.user_id : null })));
  return out;
}

function renderComplaints(items) {
  fill(
    $("complaints").tBodies[0],
    items.length
      ? items.map((c) =>
          h(
            "tr",
            { "data-complaint": c.id, "data-case": c.case_number, class: [c.overdue ? "overdue" : "", c.escalated_at && OPEN.has(c.status) ? "escalated" : ""].join(" ").trim() },
            h("th", { scope: "row" }, c.case_number),
            h("td", {}, `${c.category} / ${c.subcategory}`),
            h("td", {}, c.severity),
            h("td", { class: "cmp-status" }, h("span", { class: `badge s-${c.status}` }, c.status.replaceAll("_", " ")), c.escalated_at ? h("span", { class: "badge s-not_ready", "aria-label": "escalated" }, "escalated") : null, c.overdue ? h("span", { class: "badge s-not_ready" }, "overdue") : null),
            h("td", {}, when(c.sla_due_at)),
            h("td", {}, short(c.owner_id)),
            h("td", { class: "wrap" }, c.description, c.resolution ? h("div", { class: "muted" }, `Resolution: ${c.resolution}`) : null),
            h("td", { class: "actions" }, actionButtons(c)),
          ),
        )
      : h("tr", {}, h("td", { colspan: 8, class: "muted" }, "No complaints.")),
  );
}

async function step(c, action, body) {
  const out = await attempt(() => api("POST", `/api/v1/complaints/${c.id}/${action}`, body));
  if (!out) return null;
  // The list is redrawn first, so the message means the row shows the new state.
  await loadComplaints();
  if (out.follow_up) await loadFollowUps();
  notify(`${c.case_number}: ${action} done, now ${out.status.replaceAll("_", " ")}${out.follow_up ? " — follow-up planned" : ""}.`, "ok");
  return out;
}

function openPdca(c) {
  const form = $("pdca-form");
  form.reset();
  form.dataset.id = c.id;
  form.dataset.case = c.case_number;
  $("pdca-title").textContent = `Close ${c.case_number} with PDCA review`;
  form.hidden = false;
  $("pdca-root").focus();
}

async function submitPdca(ev) {
  ev.preventDefault();
  const form = $("pdca-form");
  const body = {
    root_cause: $("pdca-root").value.trim(),
    corrective_action: $("pdca-corrective").value.trim(),
    preventive_action: $("pdca-preventive").value.trim(),
    customer_accepted: $("pdca-accepted").value === "" ? null : $("pdca-accepted").value === "yes",
    customer_rating: $("pdca-rating").value ? Number($("pdca-rating").value) : null,
    note: $("pdca-note").value.trim(),
  };
  const missing = ["root_cause", "corrective_action", "preventive_action", "customer_accepted", "customer_rating"].filter((k) => body[k] === "" || body[k] === null);
  if (missing.length) {
    notify(`The PDCA review needs: ${missing.join(", ").replaceAll("_", " ")}.`, "error");
    return;
  }
  const out = await step({ id: form.dataset.id, case_number: form.dataset.case }, "close", body);
  if (out) form.hidden = true;
}

// --- follow-ups -----------------------------------------------------------------------------
async function loadFollowUps() {
  const show = $("fu-show").value;
  const q = new URLSearchParams({ limit: "200" });
  if (show === "due") q.set("due", "true");
  if (!["open", "all", "due"].includes(show)) q.set("status", show);
  const data = await attempt(() => api("GET", `/api/v1/follow-ups?${q}`));
  if (!data) return;
  let items = data.items || [];
  if (show === "open" || show === "due") items = items.filter((f) => OPEN_FOLLOWUPS.has(f.status));
  fill(
    $("followups").tBodies[0],
    items.length
      ? items.map((f) =>
          h(
            "tr",
            { "data-followup": f.id, class: f.status === "due" ? "overdue" : "" },
            h("th", { scope: "row" }, f.purpose.replaceAll("_", " ")),
            h("td", {}, f.channel),
            h("td", {}, `${when(f.window_start)}${f.window_end ? " – " + when(f.window_end) : ""}`),
            h("td", {}, h("span", { class: `badge s-${f.status}` }, f.status.replaceAll("_", " "))),
            h("td", {}, short(f.questioner_id)),
            h("td", {}, f.complaint_id ? short(f.complaint_id) : "–"),
            h(
              "td",
              { class: "actions" },
              ["planned", "due"].includes(f.status)
                ? h("button", { type: "button", "aria-label": `Start follow-up ${f.purpose}`, onclick: () => startFollowUp(f) }, "Start")
                : null,
              f.status === "in_progress"
                ? h("button", { type: "button", class: "primary", "aria-label": `Answers of follow-up ${f.purpose}`, onclick: () => openAnswers(f) }, "Answers…")
                : null,
              ["planned", "due", "in_progress"].includes(f.status)
                ? h("button", { type: "button", "aria-label": `Cancel follow-up ${f.purpose}`, onclick: () => cancelFollowUp(f) }, "Cancel")
                : null,
            ),
          ),
        )
      : h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No follow-ups.")),
  );
}

async function followUpStep(f, action, body, message) {
  const out = await attempt(() => api("POST", `/api/v1/follow-ups/${f.id}/${action}`, body));
  if (!out) return null;
  await loadFollowUps();
  notify(`${message}: ${out.status.replaceAll("_", " ")}.`, "ok");
  return out;
}

async function startFollowUp(f) {
  const out = await followUpStep(f, "start", {}, `Follow-up ${f.purpose.replaceAll("_", " ")}`);
  if (out) openAnswers(out);
}

// The outline's questions as form controls: yes/no and scales as selects, text as inputs.
function questionControl(q, n) {
  const id = `fu-q-${n}`;
  let control;
  if (q.kind === "yes_no") {
    control = h("select", { id }, h("option", { value: "" }, "—"), h("option", { value: "yes" }, "Yes"), h("option", { value: "no" }, "No"));
  } else if (q.kind === "scale") {
    const values = [];
    for (let v = q.low; v <= q.high; v++) values.push(v);
    control = h("select", { id }, h("option", { value: "" }, "—"), values.map((v) => h("option", { value: v }, String(v))));
  } else if (q.kind === "choice") {
    control = h("select", { id }, h("option", { value: "" }, "—"), (q.options || []).map((o) => h("option", { value: o }, o)));
  } else {
    control = h("input", { id, maxlength: 2000 });
  }
  control.dataset.key = q.key;
  control.dataset.kind = q.kind;
  if (q.required) control.setAttribute("aria-required", "true");
  return h("p", {}, h("label", { for: id }, q.text + (q.required ? "" : " (optional)")), control);
}

function openAnswers(f) {
  const form = $("fu-answer-form");
  form.dataset.id = f.id;
  form.dataset.purpose = f.purpose;
  $("fu-answer-title").textContent = `Answers: ${f.purpose.replaceAll("_", " ")}`;
  fill($("fu-questions"), (f.outline || []).map(questionControl));
  $("fu-outcome").value = "answered";
  form.hidden = false;
  const first = form.querySelector("select, input");
  if (first) first.focus();
}

function collectAnswers() {
  const answers = {};
  for (const el of $("fu-questions").querySelectorAll("[data-key]")) {
    const raw = el.value.trim();
    if (!raw) continue;
    const kind = el.dataset.kind;
    answers[el.dataset.key] = kind === "yes_no" ? raw === "yes" : kind === "scale" ? Number(raw) : raw;
  }
  return answers;
}

async function completeFollowUp(ev) {
  ev.preventDefault();
  const form = $("fu-answer-form");
  const f = { id: form.dataset.id, purpose: form.dataset.purpose };
  const body = { answers: collectAnswers(), outcome: $("fu-outcome").value.trim() };
  const out = await followUpStep(f, "complete", body, `Follow-up ${f.purpose.replaceAll("_", " ")}`);
  if (out) form.hidden = true;
}

async function noAnswer() {
  const form = $("fu-answer-form");
  const f = { id: form.dataset.id, purpose: form.dataset.purpose };
  const out = await followUpStep(f, "no-answer", { note: "no answer" }, `Follow-up ${f.purpose.replaceAll("_", " ")}`);
  if (out) form.hidden = true;
}

async function cancelFollowUp(f) {
  if (await attempt(() => api("POST", `/api/v1/follow-ups/${f.id}/cancel`, { note: "cancelled by supervisor" }))) {
    notify("Follow-up cancelled.", "ok");
    await loadFollowUps();
  }
}

// --- reports --------------------------------------------------------------------------------
const COLUMNS = [
  ["contacts", "Contacts", "n"],
  ["answered", "Answered", "n"],
  ["service_level", "SL", "%"],
  ["asa_s", "ASA", "s"],
  ["aht_s", "AHT", "s"],
  ["abandon_rate", "Abandon", "%"],
  ["fcr_rate", "FCR", "%"],
  ["complaints", "Complaints", "n"],
  ["complaint_rate", "Complaint rate", "%"],
  ["sla_compliance", "Complaint SLA", "%"],
  ["followups", "Follow-ups", "n"],
  ["completion_rate", "Follow-up done", "%"],
  ["csat_mean", "CSAT", "x"],
  ["nps", "NPS", "x"],
  ["csi", "CSI", "x"],
];

function fmt(value, kind) {
  if (value === null || value === undefined) return "–";
  if (kind === "%") return percent(value);
  if (kind === "s") return duration(value);
  if (kind === "x") return Number(value).toFixed(Number.isInteger(value) ? 0 : 2);
  return String(value);
}

function reportQuery(format) {
  const by = [$("rep-period").value, $("rep-dim").value].filter(Boolean).join(",");
  const q = new URLSearchParams({ by, format });
  if ($("rep-since").value) q.set("since", new Date(`${$("rep-since").value}T00:00:00`).toISOString());
  if ($("rep-until").value) q.set("until", new Date(`${$("rep-until").value}T23:59:59.999`).toISOString());
  return `/api/v1/reports/kpis?${q}`;
}

function updateExportLinks() {
  $("rep-csv").href = reportQuery("csv");
  $("rep-xlsx").href = reportQuery("xlsx");
}

async function loadReport() {
  updateExportLinks();
  const data = await attempt(() => api("GET", reportQuery("json")));
  if (!data) return;
  const dims = data.by || [];
  const rows = data.rows || [];
  fill(
    $("kpis").tHead,
    h("tr", {}, dims.map((d) => h("th", { scope: "col" }, d === "agent_id" ? "agent" : d)), COLUMNS.map(([, label]) => h("th", { scope: "col" }, label))),
  );
  fill(
    $("kpis").tBodies[0],
    rows.length
      ? rows.map((r) =>
          h(
            "tr",
            { "data-key": dims.map((d) => r[d]).join("|") },
            dims.map((d, i) => h(i === 0 ? "th" : "td", i === 0 ? { scope: "row" } : {}, r[d] === null || r[d] === undefined ? "–" : d === "agent_id" ? short(r[d]) : String(r[d]))),
            COLUMNS.map(([key, , kind]) => h("td", { class: "num", "data-kpi": key }, fmt(r[key], kind))),
          ),
        )
      : h("tr", {}, h("td", { colspan: dims.length + COLUMNS.length, class: "muted" }, "No data in this range.")),
  );
  renderChart(dims, rows);
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const n = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, String(v));
  if (text !== undefined) n.textContent = text;
  return n;
}

// A bar per report row (at most 40) of the chosen KPI; labels are text nodes, never markup.
function renderChart(dims, rows) {
  const metric = $("rep-metric").value;
  const kind = (COLUMNS.find(([k]) => k === metric) || [, , "n"])[2];
  const data = rows.slice(-40).map((r) => ({ label: dims.map((d) => r[d]).join(" "), v: Number(r[metric]) || 0 }));
  const W = 640, H = 140, pad = 18;
  const box = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${metric} per ${dims.join(" and ") || "total"}` });
  box.append(svg("line", { x1: 0, y1: H - pad, x2: W, y2: H - pad, class: "axis" }));
  const max = Math.max(kind === "%" ? 1 : 0, ...data.map((d) => d.v), 1e-9);
  const bw = Math.min(60, data.length ? W / data.length : W); // few rows: no page-wide slab
  data.forEach((d, i) => {
    const bh = (d.v / max) * (H - 2 * pad);
    const bar = svg("rect", { x: (i * bw + 2).toFixed(1), y: (H - pad - bh).toFixed(1), width: Math.max(1, bw - 4).toFixed(1), height: bh.toFixed(1), class: "bar-rect" });
    bar.append(svg("title", {}, `${d.label}: ${fmt(d.v, kind)}`));
    box.append(bar);
    if (bw > 40) box.append(svg("text", { x: (i * bw + 2).toFixed(1), y: H - 4 }, d.label.slice(0, Math.floor(bw / 6))));
  });
  box.append(svg("text", { x: 2, y: 11 }, `${metric}: max ${fmt(max, kind)}`));
  fill($("rep-chart"), box);
}

// --- wiring ---------------------------------------------------------------------------------
// supervisor.js calls this for every pushed alert: an escalated complaint shows in the list.
window.ccsCrmAlert = (data) => {
  if (data && data.kind === "complaint_sla") loadComplaints();
};

async function init() {
  $("complaints-filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadComplaints();
  });
  $("cmp-show").addEventListener("change", loadComplaints);
  $("followups-filter").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadFollowUps();
  });
  $("fu-show").addEventListener("change", loadFollowUps);
  $("pdca-form").addEventListener("submit", submitPdca);
  $("fu-answer-form").addEventListener("submit", completeFollowUp);
  $("fu-no-answer").addEventListener("click", noAnswer);
  $("fu-answer-cancel").addEventListener("click", () => ($("fu-answer-form").hidden = true));
  $("pdca-cancel").addEventListener("click", () => ($("pdca-form").hidden = true));
  $("report-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    loadReport();
  });
  for (const id of ["rep-period", "rep-dim", "rep-since", "rep-until"]) $(id).addEventListener("change", updateExportLinks);
  $("rep-metric").addEventListener("change", loadReport);
  const [opts, who] = await Promise.all([attempt(() => api("GET", "/api/v1/ui/crm-options")), attempt(() => api("GET", "/api/v1/auth/me"))]);
  if (opts) options = opts;
  if (who) me = { user_id: who.user_id || who.id, name: who.display_name };
  updateExportLinks();
  await Promise.all([loadComplaints(), loadFollowUps(), loadReport()]);
  // Complaints agents file and follow-ups falling due show up without a click; escalations
  // come at once as alerts. A list the supervisor is working in is left alone.
  setInterval(() => {
    const busy = (id) => $(id).contains(document.activeElement) && document.activeElement !== document.body;
    if (!busy("complaints-pane")) loadComplaints();
    if (!busy("followups-pane") && $("fu-answer-form").hidden) loadFollowUps();
  }, REFRESH_MS);
}

init();
