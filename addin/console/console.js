import { apiClient, ApiError } from "../shared/api.js";
import { completeSignIn, currentToken, signIn, signOut } from "../shared/auth.js";

const $ = (id) => document.getElementById(id);

function showProblem(message) {
  $("problem").textContent = message;
  $("problem").hidden = false;
}

function cell(text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

async function loadRoster(call, cursor) {
  const page = await call("GET", `/users?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
  for (const user of page.items) {
    const row = document.createElement("tr");
    row.append(cell(user.display_name), cell(user.email), cell(user.roles.join(", ")),
      cell(user.status, `status-${user.status}`));
    $("roster-rows").append(row);
  }
  $("roster").hidden = false;
  $("roster-more").hidden = !page.next_cursor;
  $("roster-more").onclick = () => loadRoster(call, page.next_cursor);
}

function showProfile(me) {
  $("who").textContent = `${me.user.display_name} · ${me.firm.name}`;
  const details = $("profile-details");
  details.replaceChildren();
  const rows = [["Name", me.user.display_name], ["Email", me.user.email], ["Firm", me.firm.name],
    ["Roles", me.user.roles.join(", ")], ["Time zone", me.user.time_zone || me.firm.time_zone]];
  for (const [term, value] of rows) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    details.append(dt, dd);
  }
  $("profile").hidden = false;
}

async function start() {
  const config = await (await fetch("/config.json")).json();
  $("sign-in").onclick = () => signIn(config);
  $("sign-out").onclick = () => { signOut(); window.location.assign(config.redirectUri); };
  let token = currentToken();
  try {
    token = (await completeSignIn(config)) || token;
  } catch (error) {
    showProblem(error.message);
  }
  if (!token) {
    $("signed-out").hidden = false;
    return;
  }
  const call = apiClient(config.apiBaseUrl, token);
  try {
    const me = await call("GET", "/me");
    $("sign-out").hidden = false;
    showProfile(me);
    if (me.permissions.includes("roster:read")) await loadRoster(call);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      signOut();
      $("signed-out").hidden = false;
      showProblem("Your session has ended or your account is not in this firm's roster. Sign in again.");
      return;
    }
    showProblem(error.message);
  }
}

start();
