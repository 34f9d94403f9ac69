// The devstack's outbox: the emails Matterline sent through (embedded) SES. Shown only in the devstack.
import { card, h, table } from "../util.js";

export async function render(ctx, root) {
  root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Outbox (devstack)")));
  const response = await fetch("/devstack/outbox.json");
  if (!response.ok) {
    root.append(card("Emails", h("p", {}, "The outbox is not available: this page works only in the devstack.")));
    return;
  }
  const mails = await response.json();
  const detail = h("div", { id: "outbox-detail" });
  root.append(card("Emails sent", mails.length
    ? table("!Emails sent", ["Sent", "To", "Subject", ""], [...mails].reverse().map((m) => [m.sent_at || "", (m.to || []).join(", "), m.subject || "",
      h("button", { type: "button", class: "link", onclick: () => detail.replaceChildren(card(m.subject || "(no subject)",
        h("pre", { class: "file" }, m.text || m.body || JSON.stringify(m, null, 2)))) }, "Read")]))
    : h("p", { class: "muted" }, "No email sent yet.")), detail);
}
