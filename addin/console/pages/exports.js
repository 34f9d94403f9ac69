// Exports and posting: make a file for a format and period (LEDES, Tabs3, PCLaw, TimeSlips, Abacus, CSV),
// download it again later, post released time to a connected billing system now, and the history of both.
import { busy, card, dateTime, download, explain, field, h, isoDay, select, statusLine, table } from "../util.js";

const FORMATS = [["ledes", "LEDES 1998B"], ["tabs3", "Tabs3"], ["pclaw", "PCLaw"], ["timeslips", "TimeSlips"],
  ["abacus", "AbacusLaw"], ["csv", "Generic CSV"]];

function monthStart() {
  const now = new Date();
  return isoDay(new Date(now.getFullYear(), now.getMonth(), 1));
}

export async function render(ctx, root) {
  const { session } = ctx;
  root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Exports")));
  const format = select(FORMATS, ctx.params.format || "ledes", { id: "export-format" });
  const first = h("input", { type: "date", id: "export-first", value: ctx.params.first_day || monthStart() });
  const last = h("input", { type: "date", id: "export-last", value: ctx.params.last_day || isoDay(new Date()) });
  const create = h("button", { type: "submit" }, "Create export");
  const status = statusLine({ id: "export-status" });
  const history = h("div", { id: "export-history" });
  const form = h("form", {}, h("div", { class: "row" }, field("Format", format), field("First day", first), field("Last day", last)), create, status);
  form.onsubmit = async (event) => {
    event.preventDefault();
    status.textContent = "";
    try {
      const record = await busy(create, () => session.call("POST", "/exports",
        { format: format.value, first_day: first.value, last_day: last.value }), "Exporting…");
      status.textContent = record.entries
        ? `Export ${record.sequence} is ready: ${record.entries} entries, ${record.total_hours} h, ${record.total_amount}. Download it below.`
        : "Nothing to export: no released entry in that period has not been billed already.";
      await drawHistory();
    } catch (error) { ctx.problem(explain(error)); }
  };
  root.append(card("New export", h("p", { class: "muted" },
    "Released entries of the period go into the file and are marked exported, so nothing is billed twice."), form));

  const posting = h("div", { id: "posting" });
  root.append(posting, card("History", history));

  async function fetchFile(record, button) {
    try {
      const text = await busy(button, () => session.call("GET", `/exports/${record.export_id}/file`, undefined, { raw: true }), "Downloading…");
      download(record.file_name || `export-${record.sequence}.txt`, text, record.format === "ledes" ? "text/plain" : "text/csv");
      status.textContent = `Downloaded ${record.file_name}.`;
    } catch (error) { ctx.problem(explain(error)); }
  }

  async function drawHistory() {
    const page = await session.call("GET", "/exports?limit=50");
    history.replaceChildren(page.items.length
      ? table("Exports, newest first", ["#", "Format", "Period", "Entries", "Hours", "Amount", "State", "Created", ""],
        page.items.map((r) => [String(r.sequence), r.format, `${r.first_day} – ${r.last_day}`, String(r.entries), r.total_hours,
          r.total_amount, r.state, `${dateTime(r.created_at)} by ${r.created_by}`,
          r.file_name ? h("button", { type: "button", class: "link", "aria-label": `Download export ${r.sequence} (${r.file_name})`,
            onclick: (e) => fetchFile(r, e.target) }, "Download") : ""]), { id: "exports-table" })
      : h("p", { class: "muted" }, "No export yet."));
  }

  async function drawPosting() {
    let connections = [];
    try {
      connections = (await session.call("GET", "/connections/billing")).filter((c) => c.status === "connected");
    } catch { /* billing managers may export without seeing connections */ }
    if (!connections.length) return;
    const system = select(connections.map((c) => [c.system, c.system[0].toUpperCase() + c.system.slice(1)]), connections[0].system, { id: "post-system" });
    const postFirst = h("input", { type: "date", id: "post-first", value: monthStart() });
    const postLast = h("input", { type: "date", id: "post-last", value: isoDay(new Date()) });
    const go = h("button", { type: "button" }, "Post now");
    const progress = h("progress", { hidden: true, "aria-label": "Posting" });
    const result = statusLine({ id: "post-status" });
    const log = h("div");
    go.onclick = async () => {
      progress.hidden = false; // posting answers when done; the bar shows it is under way
      result.textContent = "Posting released time…";
      try {
        const report = await busy(go, () => session.call("POST", `/connections/billing/${system.value}/post`,
          { first_day: postFirst.value, last_day: postLast.value }), "Posting…");
        result.textContent = `Posted ${report.posted}, already there ${report.already_posted}, failed ${report.failed}, skipped ${report.skipped}` +
          `${report.stopped ? `, stopped ${report.stopped} (try again later)` : ""}.`;
        const failed = report.results.filter((r) => r.outcome && r.outcome !== "posted" && r.outcome !== "already_posted");
        log.replaceChildren(failed.length ? table("Entries not posted", ["Entry", "Outcome", "Why"],
          failed.map((r) => [r.entry_id || "", r.outcome || "", r.message || r.error || ""])) : "");
      } catch (error) {
        result.textContent = "";
        ctx.problem(explain(error));
      } finally {
        progress.hidden = true;
      }
    };
    posting.replaceChildren(card("Post to the billing system",
      h("div", { class: "row" }, field("System", system), field("First day", postFirst), field("Last day", postLast)),
      h("div", { class: "actions" }, go, progress), result, log));
  }

  await Promise.all([drawHistory(), drawPosting()]);
}
