// Outbound mail: replies and acknowledgements the relay refused (with its answer), those
// still waiting for it, and those sent; a failed one can be sent again. Everything shown
// is text (addresses and relay answers come from outside).
import { api, attempt, fill, h, notify, $ } from "/static/common.js";

const STATUS = { queued: "queued", failed_retrying: "retrying", failed: "failed", sent: "sent" };

function when(iso) {
  return iso ? new Date(iso).toLocaleString() : "–";
}

async function load() {
  const state = $("mail-state").value;
  const res = await attempt(() => api("GET", `/api/v1/email/outbound?state=${encodeURIComponent(state)}`));
  if (!res) return;
  const rows = res.items.map((m) =>
    h(
      "tr",
      { "data-message": m.message_id },
      h("td", {}, when(m.updated_at)),
      h("td", {}, m.case_number || "–"),
      h("td", {}, m.recipients.join(", ")),
      h("td", {}, m.kind),
      h("td", { class: "mail-status" }, STATUS[m.status] || m.status),
      h("td", {}, String(m.attempts)),
      h("td", { class: "mail-error" }, m.last_error || ""),
      h(
        "td",
        {},
        m.status === "failed"
          ? h("button", { type: "button", "aria-label": `Retry mail to ${m.recipients.join(", ")}`, onclick: () => retry(m) }, "Retry")
          : "",
      ),
    ),
  );
  fill($("mail").tBodies[0], rows.length ? rows : h("tr", {}, h("td", { colspan: 8, class: "muted" }, "Nothing here.")));
}

async function retry(m) {
  const done = await attempt(() => api("POST", `/api/v1/email/outbound/${encodeURIComponent(m.message_id)}/retry`));
  if (done) notify(`Mail to ${m.recipients.join(", ")} queued again.`);
  await load();
}

$("mail-filter").addEventListener("submit", (ev) => {
  ev.preventDefault();
  load();
});
$("mail-state").addEventListener("change", load);
load();
