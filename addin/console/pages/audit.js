// The audit log: every change in the firm, newest first (who, when, what changed).
import { actorNamer } from "../people.js";
import { card, dateTime, h, table } from "../util.js";

function changed(before, after) {
  if (!after && !before) return "";
  if (!before) return "created";
  const keys = [...new Set([...Object.keys(before || {}), ...Object.keys(after || {})])]
    .filter((k) => JSON.stringify(before?.[k]) !== JSON.stringify(after?.[k]) && k !== "version");
  return keys.slice(0, 6).join(", ") + (keys.length > 6 ? "…" : "");
}

export async function render(ctx, root) {
  const { session } = ctx;
  const host = h("div");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Show older");
  const rows = [];
  const who = await actorNamer(session);
  root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Audit log")), card("Recent changes", host, more));
  async function load(cursor) {
    const page = await session.call("GET", `/audit?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    rows.push(...page.items.map((r) => [dateTime(r.at), who(r.actor), r.action, `${r.entity_type} ${r.entity_id}`, changed(r.before, r.after)]));
    host.replaceChildren(table("!Audit records", ["When", "Who", "What", "Record", "Fields changed"], rows, { id: "audit-table" }));
    more.hidden = !page.next_cursor;
    more.onclick = () => load(page.next_cursor);
  }
  await load();
}
