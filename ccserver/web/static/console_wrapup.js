// The console's wrap-up form: which interaction it is for, the not-ready reasons and the
// dispositions offered, and finishing wrap-up (with the follow-up the agent planned).
import { api, attempt, fill, h, notify, $ } from "/static/common.js";
import { followUpProblem, scheduleFollowUp } from "/static/console_crm.js";
import { forget } from "/static/console_text.js";

const REASONS = ["break", "lunch", "training", "meeting", "after_call_work", "coaching"];

let ctx = { st: null, render: () => {} };

// The console's state and how to re-render it.
export function initWrapUp(st, render) {
  ctx = { st, render };
}

export function wrapTarget() {
  const inWrap = [...ctx.st.interactions.values()].filter((i) => i.state === "wrap_up" || i.state === "transferred");
  return inWrap.find((i) => i.id === ctx.st.selected) || inWrap[0] || null;
}

export function renderReasons(configured) {
  // The configured reasons when the server sends them, else the shipped default list.
  const reasons = configured && configured.length ? configured : REASONS;
  const sel = $("reason");
  const current = sel.value;
  fill(sel, reasons.map((r) => h("option", { value: r }, r.replaceAll("_", " "))));
  if (reasons.includes(current)) sel.value = current;
}

export function renderDispositions() {
  const sel = $("disposition");
  const current = sel.value;
  fill(sel, h("option", { value: "" }, "— choose —"), ctx.st.dispositions.map((d) => h("option", { value: d }, d.replaceAll("_", " "))));
  sel.value = current;
}

export function renderWrapUp() {
  const form = $("wrapup");
  const target = wrapTarget();
  form.hidden = !target;
  form.dataset.id = target ? target.id : "";
}

export async function wrapUp(ev) {
  ev.preventDefault();
  const target = wrapTarget();
  if (!target) return;
  const disposition = $("disposition").value;
  if (!disposition) {
    notify("Choose a disposition before finishing wrap-up.", "error");
    $("disposition").focus();
    return;
  }
  const problem = followUpProblem();
  if (problem) {
    notify(problem, "error");
    return;
  }
  const body = { disposition, notes: $("notes").value || null, fcr: $("fcr").checked };
  const done = await attempt(() => api("POST", `/api/v1/interactions/${target.id}/wrap-up`, body));
  if (done) {
    const followUp = await scheduleFollowUp(target);
    ctx.st.interactions.delete(target.id);
    forget(target.id);
    if (ctx.st.selected === target.id) ctx.st.selected = null;
    $("wrapup").reset();
    if (!followUp) notify("Wrap-up saved.");
    ctx.render();
  }
}
