// Activity report: each person's hours by status for a period (totals only: never personal items, never
// content). Uses GET /reports/activity; where the server has no such report yet, it adds up each person's
// /users/{id}/totals instead.
import { ApiError, query } from "../../shared/api.js";
import { addDays, allPages, card, explain, field, h, hours, isoDay, mondayOf, table } from "../util.js";

const STATUSES = ["unassigned", "assigned", "released", "exported", "posted"];

async function fromTotals(call, start, end) {
  const people = await allPages(call, "/users");
  const rows = await Promise.all(people.map(async (user) => {
    const t = await call("GET", `/users/${user.user_id}/totals${query({ start, end })}`).catch(() => null);
    if (!t) return null;
    return { display_name: user.display_name, email: user.email, captured_seconds: t.captured_seconds,
      statuses: { unassigned: { seconds: t.unassigned_seconds }, assigned: { seconds: t.assigned_seconds },
        released: { seconds: t.released_seconds }, exported: { seconds: t.exported_seconds } } };
  }));
  return rows.filter(Boolean);
}

export async function render(ctx, root) {
  const { session } = ctx;
  const start = ctx.params.start || mondayOf(isoDay(new Date()));
  const end = ctx.params.end || addDays(start, 6);
  const first = h("input", { type: "date", id: "activity-start", value: start });
  const last = h("input", { type: "date", id: "activity-end", value: end });
  const show = h("button", { type: "button", onclick: () => ctx.navigate("activity", { start: first.value, end: last.value }) }, "Show");
  const host = h("div", { id: "activity-report", "aria-busy": "true" }, h("p", { class: "muted" }, "Adding up…"));
  root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Activity report")),
    card("Period", h("div", { class: "toolbar" }, field("From", first), field("To", last), show)),
    card("Hours by person and status", h("p", { class: "muted" }, "Business time only: personal items are never counted or shown."), host));
  let rows;
  let note = "";
  try {
    rows = (await session.call("GET", `/reports/activity${query({ start, end })}`)).users;
  } catch (error) {
    // Only a server without the report falls back; any other problem is shown as it is.
    if (!(error instanceof ApiError && error.status === 404 && error.problem?.code !== "not_found_user")) {
      host.replaceChildren();
      ctx.problem(explain(error));
      return;
    }
    rows = await fromTotals(session.call, start, end);
    note = "Worked out from each person's totals.";
  }
  const seconds = (row, status) => row.statuses?.[status]?.seconds || 0;
  const columns = STATUSES.filter((s) => s !== "posted" || rows.some((r) => seconds(r, "posted")));
  const sum = (pick) => rows.reduce((total, row) => total + pick(row), 0);
  const body = rows.map((r) => [r.display_name, r.email, hours(r.captured_seconds), ...columns.map((s) => hours(seconds(r, s)))]);
  body.push([h("strong", {}, "All"), "", hours(sum((r) => r.captured_seconds)), ...columns.map((s) => hours(sum((r) => seconds(r, s))))]);
  host.removeAttribute("aria-busy");
  host.replaceChildren(table("!Hours by person and status",
    ["Person", "Email", "Captured", ...columns.map((s) => s[0].toUpperCase() + s.slice(1))], body, { id: "activity-table" }),
  note ? h("p", { class: "muted small" }, note) : "");
}
