// Connections: Microsoft 365 (mail and calendar capture) and billing systems (Clio, Actionstep) — connect
// through the system's own consent page, see status and last sync, change properties, sync now.
import { ApiError } from "../../shared/api.js";
import { busy, card, dateTime, dialog, explain, field, h, select, statusLine, table } from "../util.js";

const NAMES = { clio: "Clio", actionstep: "Actionstep" };
const OUTCOMES = { connected: "is connected. Sync it now to bring in matters, people and activity types.",
  denied: "was not connected: the consent was declined. Connect again and choose Allow.",
  failed: "could not be connected. Try again; if it keeps failing, check the system's status page." };

export async function render(ctx, root) {
  const { session } = ctx;
  root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Connections")));
  // The billing system's consent page sends the browser back here with ?clio=connected (or denied).
  for (const system of Object.keys(NAMES)) {
    const outcome = ctx.params[system];
    if (outcome) {
      root.append(h("div", { class: outcome === "connected" ? "notice" : "error", role: "status", id: "connect-outcome" },
        `${NAMES[system]} ${OUTCOMES[outcome] || `answered “${outcome}”.`}`));
    }
  }
  const billingHost = h("div", { class: "grid-2", id: "billing-connections" });
  const microsoftHost = h("div", { id: "microsoft-connection" });
  root.append(billingHost, microsoftHost);
  await Promise.all([drawBilling(ctx, billingHost), drawMicrosoft(ctx, microsoftHost)]);
}

async function drawBilling(ctx, host) {
  const { session } = ctx;
  const connections = await session.call("GET", "/connections/billing");
  host.replaceChildren(...connections.map((connection) => billingCard(ctx, connection, () => drawBilling(ctx, host))));
}

function billingCard(ctx, c, refresh) {
  const { session } = ctx;
  const name = NAMES[c.system] || c.system;
  const status = statusLine({ id: `${c.system}-status` });
  const connected = c.status === "connected";
  const facts = h("dl", {},
    h("dt", {}, "Status"), h("dd", { class: connected ? "ok" : c.status === "disconnected" ? "" : "bad", id: `${c.system}-state` }, c.status),
    connected ? [h("dt", {}, "Connected"), h("dd", {}, `${dateTime(c.connected_at)} by ${c.connected_by || "—"}`)] : null,
    h("dt", {}, "Last sync"), h("dd", {}, c.last_sync_at ? `${dateTime(c.last_sync_at)} · ${Object.entries(c.last_sync || {}).map(([k, v]) => `${v} ${k}`).join(", ")}` : "never"),
    h("dt", {}, "Last posting"), h("dd", {}, c.last_post_at ? dateTime(c.last_post_at) : "never"),
    c.last_error ? [h("dt", {}, "Problem"), h("dd", { class: "bad" }, c.last_error)] : null);
  const connect = h("button", { type: "button" }, connected ? `Reconnect ${name}` : `Connect ${name}`);
  connect.onclick = async () => {
    try {
      const answer = await busy(connect, () => session.call("POST", `/connections/billing/${c.system}/authorize`), "Opening…");
      window.location.assign(answer.authorize_url); // the system's consent page; it comes back to #connections
    } catch (error) { status.textContent = ""; ctx.problem(explain(error)); }
  };
  const sync = h("button", { type: "button", class: "secondary", hidden: !connected }, "Sync now");
  sync.onclick = async () => {
    try {
      const result = await busy(sync, () => session.call("POST", `/connections/billing/${c.system}/sync`), "Syncing…");
      status.textContent = `Synced: ${Object.entries(result.counts).map(([k, v]) => `${v} ${k}`).join(", ") || "nothing new"}` +
        `${result.unmatched_users.length ? ` · not matched to anyone here: ${result.unmatched_users.join(", ")}` : ""}.`;
    } catch (error) { ctx.problem(explain(error)); }
  };
  const people = c.system === "actionstep" && c.status !== "disconnected" ? h("div", { id: `${c.system}-people` }) : null;
  if (people) drawPeople(ctx, c, facts, people);
  const props = h("button", { type: "button", class: "secondary", hidden: !connected }, "Properties…");
  props.onclick = () => editProperties(ctx, c, refresh);
  const disconnect = h("button", { type: "button", class: "secondary", hidden: !connected }, "Disconnect");
  disconnect.onclick = async () => {
    if (!window.confirm(`Disconnect ${name}? Released time stops posting until it is connected again.`)) return;
    try {
      await busy(disconnect, () => session.call("POST", `/connections/billing/${c.system}/disconnect`, { version: c.version }));
      await refresh();
    } catch (error) { ctx.problem(explain(error)); }
  };
  return card(name, facts, people, h("div", { class: "actions" }, connect, sync, props, disconnect), status);
}

/** Actionstep: who of the people recording time has connected their own login, beside USER_AUTHORIZATION,
 * so an admin can judge when REQUIRED would hold nobody's time back. */
async function drawPeople(ctx, c, facts, host) {
  let seen;
  try {
    seen = await ctx.session.call("GET", `/connections/billing/${c.system}/user-authorizations`);
  } catch (error) {
    // 403: a caller without roster:read; 404/409: an API without the overview. The card stands without it.
    if (error instanceof ApiError && [403, 404, 409].includes(error.status)) return;
    host.replaceChildren(h("p", { class: "bad" }, explain(error)));
    return;
  }
  const name = NAMES[c.system] || c.system;
  const required = seen.user_authorization === "REQUIRED";
  const missing = seen.people_count - seen.connected_count;
  const effect = required
    ? (missing ? `The time of the ${missing} not connected is not posted until they connect.` : "Everyone is connected: all time is posted.")
    : (missing ? `REQUIRED would hold back the time of the ${missing} not connected.` : "Everyone is connected: REQUIRED would hold back nobody's time.");
  // Beside the connection's other facts, so the switch and who it would affect read together.
  facts.append(
    h("dt", {}, "User authorization"),
    h("dd", {}, h("span", { id: `${c.system}-user-authorization` }, seen.user_authorization),
      h("span", { class: "hint" }, " · USER_AUTHORIZATION under Properties…")),
    h("dt", {}, "Own logins"),
    h("dd", {}, h("span", { id: `${c.system}-own-logins`, class: missing ? "" : "ok" }, `${seen.connected_count} of ${seen.people_count} connected`),
      h("br"), h("span", { class: "hint" }, effect)));
  host.replaceChildren(table(`People's own ${name} logins`, ["Person", "Own login"], seen.people.map((p) => [
    h("span", { title: p.email }, p.display_name),
    ownLogin(p),
  ]), { id: `${c.system}-people-table` }));
}

function ownLogin(p) {
  if (p.status === "connected") {
    return h("span", { class: "ok" }, `connected as ${p.connected_as || p.display_name}${p.authorized_at ? ` since ${new Date(p.authorized_at).toLocaleDateString()}` : ""}`);
  }
  if (p.status === "reauthorize") return h("span", { class: "bad", title: p.last_error || "" }, "needs reauthorizing");
  return "not connected";
}

function editProperties(ctx, c, refresh) {
  const rows = Object.entries(c.properties || {});
  const text = h("textarea", { id: "props-text", rows: Math.max(6, rows.length + 2), spellcheck: "false" },
    rows.map(([k, v]) => `${k}=${v}`).join("\n"));
  const problem = h("div", { class: "error", role: "alert", hidden: true });
  const save = h("button", { type: "button" }, "Save");
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const box = dialog(`${NAMES[c.system]} properties`, h("div", {}, problem,
    field("One NAME=value per line", text, "e.g. SHOW_CLOSED_CASES=true, ACTION_SYNC_INTERVAL_MINUTES=60")), [save, cancel]);
  cancel.onclick = () => box.close();
  save.onclick = async () => {
    const properties = {};
    for (const line of text.value.split("\n").map((l) => l.trim()).filter(Boolean)) {
      const at = line.indexOf("=");
      if (at < 1) { problem.textContent = `“${line}” is not NAME=value.`; problem.hidden = false; return; }
      properties[line.slice(0, at).trim()] = line.slice(at + 1).trim();
    }
    try {
      await busy(save, () => ctx.session.call("PUT", `/connections/billing/${c.system}/properties`, { version: c.version, properties }));
      box.close();
      await refresh();
    } catch (error) { problem.textContent = explain(error); problem.hidden = false; }
  };
}

async function drawMicrosoft(ctx, host) {
  const { session } = ctx;
  let connection = null;
  try {
    connection = await session.call("GET", "/connections/microsoft");
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
  }
  const status = statusLine({ id: "microsoft-status" });
  if (!connection || !connection.connected_at) {
    const tenant = h("input", { id: "ms-tenant", placeholder: "contoso.onmicrosoft.com or the tenant id" });
    const protocol = select([["graph", "Microsoft Graph (Exchange Online)"], ["ews", "EWS (Exchange on-premises)"]], "graph", { id: "ms-protocol" });
    const connect = h("button", { type: "button" }, "Connect Microsoft 365");
    connect.onclick = async () => {
      try {
        await busy(connect, () => session.call("PUT", "/connections/microsoft", { tenant_id: tenant.value.trim() || null, protocol: protocol.value }));
        await drawMicrosoft(ctx, host);
      } catch (error) { ctx.problem(explain(error)); }
    };
    host.replaceChildren(card("Microsoft 365", h("p", {}, "Not connected: mail and meetings are not captured from the mailboxes."),
      h("div", { class: "row" }, field("Tenant", tenant), field("Protocol", protocol)), connect, status));
    return;
  }
  const sync = h("button", { type: "button", class: "secondary" }, "Sync now");
  sync.onclick = async () => {
    try {
      const answer = await busy(sync, () => session.call("POST", "/connections/microsoft/sync"), "Queuing…");
      status.textContent = `${answer.queued} mailbox ${answer.queued === 1 ? "sync" : "syncs"} queued.`;
    } catch (error) { ctx.problem(explain(error)); }
  };
  host.replaceChildren(card("Microsoft 365",
    h("dl", {}, h("dt", {}, "Tenant"), h("dd", {}, connection.tenant_id), h("dt", {}, "Protocol"), h("dd", {}, connection.protocol),
      h("dt", {}, "Connected"), h("dd", {}, dateTime(connection.connected_at)),
      connection.errors?.length ? [h("dt", {}, "Problems"), h("dd", { class: "bad" }, connection.errors.map((e) => (typeof e === "string" ? e : JSON.stringify(e))).join("; "))] : null),
    table("Mailboxes captured", ["Person", "Mailbox", "Capturing", "Folders"], (connection.users || []).map((u) =>
      [u.user_id, u.mailbox, u.enabled ? "yes" : "no", (u.folders || []).map((f) => (typeof f === "string" ? f : f.folder || f.name || "")).join(", ")])),
    h("div", { class: "actions" }, sync), status));
}
