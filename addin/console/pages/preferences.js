// My preferences: how often my time report email comes, at what hour, and my time zone; and my own
// billing-system logins (Actionstep: each person connects theirs so their time is posted as them).
import { ApiError } from "../../shared/api.js";
import { busy, card, explain, field, h, select, statusLine } from "../util.js";

const FREQUENCIES = [["off", "Never"], ["daily", "Every working day"], ["weekly", "Every week"], ["monthly", "Every month"]];

export async function render(ctx, root) {
  const { session } = ctx;
  root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Preferences")));
  let current;
  try {
    current = await session.call("GET", "/me/preferences");
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 403)) {
      root.append(card("Report emails", h("p", {}, "Preferences cannot be changed here yet: this Matterline server does not offer them. Ask your firm admin.")));
      return;
    }
    throw error;
  }
  const zones = Intl.supportedValuesOf?.("timeZone") || [current.time_zone];
  const frequency = select(FREQUENCIES, current.report_frequency, { id: "pref-frequency" });
  const hour = select([...Array(24).keys()].map((n) => [n, `${String(n).padStart(2, "0")}:00`]), current.report_hour, { id: "pref-hour" });
  const zone = select(zones.map((z) => [z, z.replace(/_/g, " ")]), current.time_zone, { id: "pref-zone" });
  if (!zones.includes(current.time_zone)) zone.prepend(h("option", { value: current.time_zone, selected: true }, current.time_zone));
  const save = h("button", { type: "submit" }, "Save preferences");
  const status = statusLine({ id: "pref-status" });
  const form = h("form", {}, field("Time report email", frequency), field("Sent at", hour, "In your time zone."),
    field("Time zone", zone, "Your days and reports follow this zone."), save, status);
  form.onsubmit = async (event) => {
    event.preventDefault();
    const body = { report_frequency: frequency.value, report_hour: Number(hour.value), time_zone: zone.value };
    if (current.version !== undefined) body.version = current.version; // sent back when the API versions it
    try {
      current = await busy(save, () => session.call("PUT", "/me/preferences", body));
      status.textContent = "Saved.";
    } catch (error) { status.textContent = ""; ctx.problem(explain(error)); }
  };
  root.append(card("Report emails and time zone", form));
  await drawBillingLogins(ctx, root);
}

const SYSTEM_NAMES = { actionstep: "Actionstep" };
const BANNER_DISMISSED = "matterline.billing-banner-dismissed";

/** My own logins with the billing systems my firm connected (only those whose people connect themselves). */
async function drawBillingLogins(ctx, root) {
  const { session } = ctx;
  let mine;
  try {
    mine = await session.call("GET", "/me/billing-authorizations");
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 403)) return; // an older API, or no login of my own
    throw error;
  }
  const returned = returnedOutcome(ctx.params);
  // A refused sign-in is shown even when there is no login to list (the firm disconnected meanwhile, say).
  const problem = h("p", { class: "error", role: "alert", id: "billing-login-problem", hidden: !returned || returned.ok },
    returned && !returned.ok ? returned.text : "");
  if (!mine.length) {
    if (returned && !returned.ok) root.append(card("Billing systems", problem));
    return;
  }
  const host = h("div", { id: "billing-logins" });
  const status = statusLine({ id: "billing-login-status" });
  if (returned?.ok) status.textContent = returned.text;
  const draw = (logins) => host.replaceChildren(...logins.map((login) => loginLine(session, login, status, async () => {
    problem.hidden = true;
    draw(await session.call("GET", "/me/billing-authorizations"));
  })));
  draw(mine);
  root.append(card("Billing systems", problem, host, status));
}

// Outcomes the callback sends a refused sign-in back with; their message says what to do next.
const REFUSALS = new Set(["wrong_login", "expired", "used", "other_system", "not_in_firm", "code_refused", "no_code", "failed"]);

/** What the consent page's return says: `#preferences?actionstep=connected`, `=declined&reason=…`, or a
 * refusal `=expired&message=…`. Only known outcomes show their message, as text, so a crafted link cannot
 * put arbitrary words in the page. */
function returnedOutcome(params) {
  for (const [system, name] of Object.entries(SYSTEM_NAMES)) {
    const outcome = params[system];
    if (!outcome) continue;
    if (outcome === "connected") return { ok: true, text: `${name} is connected: your time is posted as you.` };
    if (outcome === "declined") return { ok: false, text: `${name} was not connected (${params.reason || outcome}). Choose Connect to ${name} and Allow access.` };
    if (REFUSALS.has(outcome) && params.message) return { ok: false, text: params.message.slice(0, 300) };
    return { ok: false, text: `${name} was not connected. Choose Connect to ${name} and try again.` };
  }
  // A link that came back through another system's callback is refused under that system's name.
  const refused = Object.values(params).some((value) => REFUSALS.has(value));
  return refused && params.message ? { ok: false, text: params.message.slice(0, 300) } : null;
}

function loginLine(session, login, status, refresh) {
  const name = SYSTEM_NAMES[login.system] || login.system;
  if (login.status === "connected") {
    const disconnect = h("button", { type: "button", class: "link", id: `${login.system}-login-disconnect` }, "Disconnect");
    disconnect.onclick = async () => {
      try {
        await busy(disconnect, () => session.call("DELETE", `/me/billing-authorizations/${login.system}`));
        status.textContent = `${name} is disconnected.` + (login.required ? " Your time waits until you connect again." : " Your time goes through your firm's connection.");
        await refresh();
      } catch (error) { status.textContent = explain(error); }
    };
    return h("p", { id: `${login.system}-login` }, `${name}: connected as ${login.connected_as || "you"} · `, disconnect);
  }
  const connect = connectButton(session, login.system);
  const why = login.status === "reauthorize" ? `${name} no longer accepts your sign-in.` : `${name}: not connected.`;
  const effect = login.required ? " Your time is not posted until you connect." : " Your time is posted through your firm's connection meanwhile.";
  return h("div", { id: `${login.system}-login` }, h("p", {}, why + effect), connect);
}

function connectButton(session, system, attrs = {}) {
  const name = SYSTEM_NAMES[system] || system;
  const button = h("button", { type: "button", ...attrs }, `Connect to ${name}`);
  button.onclick = async () => {
    try {
      const started = await busy(button, () => session.call("POST", `/me/billing-authorizations/${system}/authorize`));
      window.location.assign(started.authorize_url); // the system's consent page; it returns to Preferences
    } catch (error) {
      const problem = document.getElementById("problem");
      problem.textContent = explain(error);
      problem.hidden = false;
    }
  };
  return button;
}

/** The shell's notification: my firm posts time to a system I have not connected my own login to.
 * Dismissed for this browser session; gone once I connect. */
export async function billingBanner(session, host) {
  if (session.kind !== "user" || !session.can("time:write-own") || sessionStorage.getItem(BANNER_DISMISSED)) return;
  let mine;
  try {
    mine = await session.call("GET", "/me/billing-authorizations");
  } catch {
    return; // a notification is not worth an error on every page
  }
  const missing = mine.find((login) => login.firm_connected && login.status !== "connected");
  if (!missing) return;
  const name = SYSTEM_NAMES[missing.system] || missing.system;
  const dismiss = h("button", { type: "button", class: "secondary", id: "billing-banner-dismiss" }, "Not now");
  const banner = h("section", { class: "card", id: "billing-banner", role: "region", "aria-label": `${name} account` },
    h("p", {}, missing.status === "reauthorize"
      ? `${name} no longer accepts your sign-in. Connect your ${name} account again so your time is posted as you.`
      : `Your firm posts time to ${name}. Connect your ${name} account so your time is posted as you.`),
    h("div", { class: "actions" }, connectButton(session, missing.system, { id: "billing-banner-connect" }), dismiss));
  dismiss.onclick = () => { sessionStorage.setItem(BANNER_DISMISSED, "1"); banner.remove(); };
  host.prepend(banner);
}
