// The console's attended (consult / warm) transfer: the Consult form on a connected call,
// then "Complete transfer" / "Cancel consult" while the consult runs, and the notice when it
// ends by itself (no answer, busy, the other party or the caller hung up). The interaction's
// `consult` ({state: dialing | talking, target, kind}) comes from the server.
import { h, notify } from "/static/common.js";

const RESULTS = {
  no_answer: "no answer - you are back with the caller",
  busy: "busy - you are back with the caller",
  failed: "the call could not be placed - you are back with the caller",
  target_hung_up: "the other party hung up - you are back with the caller",
  caller_left: "the caller hung up; you are still connected to the other party",
};

let ctx = { st: null, control: null, rerender: () => {} };

// The console's state, its control() (POST .../control) and how to re-render the cards.
export function initConsult(st, control, rerender) {
  ctx = { st, control, rerender };
}

export function consultResult(data) {
  notify(`Consult: ${RESULTS[data.result] || data.result}.`, "warn");
}

// Attended transfer: while a consult runs the caller is on music, so only its own steps
// (and hanging up) are offered; "Complete transfer" once the consulted party has answered.
export function consultControls(i) {
  const c = i.consult;
  const talking = c.state === "talking";
  return [
    h("p", { class: "muted", role: "status" }, talking ? `Consulting ${c.target} (caller on hold)` : `Calling ${c.target}… (caller on hold)`),
    talking ? h("button", { type: "button", class: "primary", onclick: () => consultStep(i.id, "consult_complete") }, "Complete transfer") : null,
    h("button", { type: "button", onclick: () => consultStep(i.id, "consult_cancel") }, "Cancel consult"),
    h("button", { type: "button", class: "danger", onclick: () => ctx.control(i.id, "hangup") }, "Hang up"),
  ];
}

export function consultForm(i) {
  const input = h("input", { "aria-label": "Consult number or agent", placeholder: "+number or agent", maxlength: 64, size: 12 });
  return h(
    "form",
    {
      class: "inline",
      "aria-label": "Consult",
      onsubmit: (ev) => {
        ev.preventDefault();
        const target = input.value.trim();
        if (!target) return;
        const params = /^[+0-9][0-9 ()-]*$/.test(target) ? { number: target.replace(/[ ()-]/g, "") } : { agent_id: target };
        consultStep(i.id, "consult", params);
      },
    },
    input,
    h("button", { type: "submit" }, "Consult"),
  );
}

async function consultStep(id, action, params) {
  const res = await ctx.control(id, action, params);
  const cur = ctx.st.interactions.get(id);
  // The answer carries the consult's new state; the interaction frame that follows agrees.
  if (res && cur && "consult" in res) {
    ctx.st.interactions.set(id, { ...cur, consult: res.consult });
    ctx.rerender();
  }
}
