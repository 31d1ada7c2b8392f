// Simulated caller panel: shown only when the built-in Asterisk simulator runs. Places a
// call that travels the real path (AMI, IVR, queue, offer with screen pop).
import { api, attempt, h, notify, $ } from "/static/common.js";

async function init() {
  let status;
  try {
    status = await api("GET", "/api/v1/simulator");
  } catch {
    return; // a real Asterisk (or none): no panel
  }
  const list = $("sim-callers");
  for (const c of status.callers) list.append(h("option", { value: c.phone }, c.name));
  if (status.callers.length) $("sim-caller").value = status.callers[0].phone;
  $("sim-digits").value = status.default_digits;
  $("sim-pane").hidden = false;
  $("sim-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const caller = $("sim-caller").value.trim();
    const digits = $("sim-digits").value.trim();
    const placed = await attempt(() => api("POST", "/api/v1/simulator/calls", { caller, digits }));
    if (placed) notify(`Simulated call placed from ${caller} (${placed.channel}).`);
  });
}

init();
