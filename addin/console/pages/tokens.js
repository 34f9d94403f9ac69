// API tokens for billing systems and firm IT: create (the secret is shown once), list, revoke.
import { busy, card, dateTime, explain, field, h, statusLine, table } from "../util.js";

const SCOPES = [["roster:read", "Read the roster"], ["roster:write", "Change the roster"], ["matters:read", "Read matters"],
  ["matters:write", "Change matters"], ["billing:export", "Read released time and mark it exported"], ["audit:read", "Read the audit log"]];

export async function render(ctx, root) {
  const { session } = ctx;
  root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "API tokens")));
  const name = h("input", { id: "token-name", placeholder: "e.g. Billing system nightly sync" });
  const expires = h("input", { type: "date", id: "token-expires" });
  const scopes = h("fieldset", {}, h("legend", {}, "Scopes"), SCOPES.map(([value, label]) =>
    h("label", { class: "check" }, h("input", { type: "checkbox", name: "scope", value }), ` ${label} `)));
  const create = h("button", { type: "submit" }, "Create token");
  const secret = h("div", { id: "token-secret", role: "status", "aria-live": "polite" });
  const status = statusLine();
  const list = h("div", { id: "tokens-list" });
  const form = h("form", {}, h("div", { class: "row" }, field("Name", name), field("Expires (optional)", expires)), scopes, create, secret);
  form.onsubmit = async (event) => {
    event.preventDefault();
    const chosen = [...form.querySelectorAll("input[name=scope]:checked")].map((b) => b.value);
    try {
      const issued = await busy(create, () => session.call("POST", "/api-tokens", { name: name.value.trim(), scopes: chosen,
        expires_at: expires.value ? new Date(`${expires.value}T23:59:59`).toISOString() : null }));
      const copy = h("button", { type: "button", class: "secondary", onclick: () => navigator.clipboard?.writeText(issued.secret) }, "Copy");
      secret.replaceChildren(h("p", {}, h("strong", {}, "Copy this secret now: it is shown only once."), " "),
        h("p", { class: "secret" }, issued.secret), copy);
      form.reset();
      await draw();
    } catch (error) { ctx.problem(explain(error)); }
  };
  async function draw() {
    const tokens = await session.call("GET", "/api-tokens");
    list.replaceChildren(tokens.length ? table("!API tokens", ["Name", "Scopes", "Status", "Created", "Expires", "Last used", ""],
      tokens.map((t) => [t.name, t.scopes.join(", "), t.status, `${dateTime(t.created_at)} by ${t.created_by}`, dateTime(t.expires_at) || "never",
        dateTime(t.last_used_at) || "never",
        t.status === "active" ? h("button", { type: "button", class: "link", "aria-label": `Revoke ${t.name}`, onclick: async (e) => {
          if (!window.confirm(`Revoke “${t.name}”? Anything using it stops working at once.`)) return;
          try { await busy(e.target, () => session.call("DELETE", `/api-tokens/${t.token_id}`)); status.textContent = `${t.name} is revoked.`; await draw(); }
          catch (error) { ctx.problem(explain(error)); }
        } }, "Revoke") : ""]), { id: "tokens-table" }) : h("p", { class: "muted" }, "No API token yet."));
  }
  root.append(card("New token", form), card("Tokens", list, status));
  await draw();
}
