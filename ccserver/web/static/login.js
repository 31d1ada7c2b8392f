// Login: POST the credentials, then go to ?next= (a local path only) or to the person's home.
import { api, $, notify } from "/static/common.js";

function safeNext(raw) {
  // Only a path on this site may follow the login (no open redirect).
  if (!raw || !raw.startsWith("/") || raw.startsWith("//") || raw.includes("\\")) return null;
  return raw;
}

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const username = $("username").value.trim();
  const password = $("password").value;
  if (!username || !password) {
    notify("Enter your user name and password.", "error");
    return;
  }
  $("login-button").disabled = true;
  try {
    const res = await api("POST", "/api/v1/auth/login", { username, password });
    const next = safeNext(new URLSearchParams(location.search).get("next"));
    const home = ["supervisor", "admin"].includes(res.user.role) ? "/supervisor" : "/console";
    location.assign(next || home);
  } catch (e) {
    notify(e.status === 429 ? "Too many attempts; wait a moment." : e.message, "error");
    $("password").value = "";
    $("password").focus();
  } finally {
    $("login-button").disabled = false;
  }
});
