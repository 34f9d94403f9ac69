// Clients, matters and contacts: browse them, and bring them in from CSV (preview with row errors, fix the
// file right here, commit with progress).
import { busy, card, explain, field, h, progressBar, select, statusLine, table } from "../util.js";

const TABS = [["matters", "Matters"], ["clients", "Clients"], ["contacts", "Contacts"], ["import", "Import CSV"]];

export async function render(ctx, root) {
  const tab = TABS.some(([id]) => id === ctx.params.tab) ? ctx.params.tab : "matters";
  const panel = h("div", { role: "tabpanel", id: "directory-panel", tabindex: "0" });
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": "Clients and matters" },
    TABS.map(([id, label]) => h("button", { type: "button", role: "tab", id: `tab-${id}`, "aria-selected": String(id === tab),
      "aria-controls": "directory-panel", tabindex: id === tab ? "0" : "-1", onclick: () => ctx.navigate("directory", { tab: id }) }, label)));
  tabs.addEventListener("keydown", (event) => {
    // Arrow keys move between tabs, as the ARIA tabs pattern expects.
    if (!["ArrowLeft", "ArrowRight"].includes(event.key)) return;
    const index = TABS.findIndex(([id]) => id === tab);
    const next = TABS[(index + (event.key === "ArrowRight" ? 1 : TABS.length - 1)) % TABS.length][0];
    ctx.navigate("directory", { tab: next });
  });
  panel.setAttribute("aria-labelledby", `tab-${tab}`);
  root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Clients & matters")), tabs, panel);
  if (tab === "import") return importPanel(ctx, panel, ctx.params.kind);
  return listPanel(ctx, panel, tab);
}

async function listPanel(ctx, panel, kind) {
  const { session } = ctx;
  const host = h("div");
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Show more");
  const searchInput = h("input", { type: "search", id: `${kind}-search`, placeholder: kind === "matters" ? "Number or name prefix" : "Name prefix" });
  const clientNames = new Map();
  let items = [];
  const columns = {
    matters: [["Number", (m) => m.number], ["Name", (m) => m.name], ["Client", (m) => clientNames.get(m.client_id) || ""],
      ["Status", (m) => m.status], ["Billing", (m) => m.billing_method], ["External ids", (m) => Object.entries(m.external_ids).map(([k, v]) => `${k}=${v}`).join(", ")]],
    clients: [["Name", (c) => c.name], ["Domains", (c) => c.domains.join(", ")], ["External ids", (c) => Object.entries(c.external_ids).map(([k, v]) => `${k}=${v}`).join(", ")]],
    contacts: [["Name", (c) => c.name], ["Emails", (c) => c.emails.join(", ")], ["Company", (c) => c.company], ["Phones", (c) => c.phones.join(", ")]],
  }[kind];

  function draw() {
    host.replaceChildren(items.length
      ? table(`!${kind}`, columns.map(([name]) => name), items.map((item) => columns.map(([, value]) => value(item) ?? "")), { id: `${kind}-table` })
      : h("p", { class: "muted" }, `No ${kind} yet. Import them from CSV, or connect a billing system to sync them.`));
  }

  async function load(cursor, reset) {
    const text = searchInput.value.trim();
    const filter = text ? (kind === "matters" && /^[0-9]/.test(text) ? `&number=${encodeURIComponent(text)}` : `&name=${encodeURIComponent(text)}`) : "";
    const page = await session.call("GET", `/${kind}?limit=50${filter}${kind === "matters" ? "&include_closed=true" : ""}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    if (reset) items = [];
    items.push(...page.items);
    if (kind === "matters") {
      const missing = [...new Set(page.items.map((m) => m.client_id))].filter((id) => !clientNames.has(id));
      const found = await Promise.all(missing.map((id) => session.call("GET", `/clients/${id}`).catch(() => null)));
      missing.forEach((id, i) => clientNames.set(id, found[i]?.name || ""));
    }
    draw();
    more.hidden = !page.next_cursor;
    more.onclick = () => load(page.next_cursor).catch((e) => ctx.problem(explain(e)));
  }
  let timer = null;
  searchInput.oninput = () => { clearTimeout(timer); timer = setTimeout(() => load(null, true).catch((e) => ctx.problem(explain(e))), 250); };
  panel.append(card(kind[0].toUpperCase() + kind.slice(1), field("Search", searchInput), host, more));
  await load(null, true);
}

const KIND_HINTS = {
  matters: "Columns: external_id, number, name, client (its external id or name); optional status, responsible, billing_method, utbms_required, rounding_increment, opened_on, closed_on.",
  clients: "Columns: external_id, name; optional domains, rounding_increment.",
  contacts: "Columns: external_id, name; optional emails, phones, company, client.",
  roster: "Columns: email, display_name, roles; optional external_id, phone_extensions, time_zone.",
};

function importPanel(ctx, panel, initialKind) {
  const { session } = ctx;
  const kinds = [["matters", "Matters"], ["clients", "Clients"], ["contacts", "Contacts"]];
  if (session.can("roster:write")) kinds.push(["roster", "People (roster)"]);
  const kind = select(kinds, initialKind || "matters", { id: "import-kind" });
  const hint = h("p", { class: "hint", id: "import-hint" });
  const file = h("input", { type: "file", id: "import-file", accept: ".csv,text/csv,text/plain" });
  const text = h("textarea", { id: "import-csv", rows: 10, spellcheck: "false", "aria-describedby": "import-hint" });
  const previewButton = h("button", { type: "button" }, "Preview");
  const commitButton = h("button", { type: "button", disabled: true }, "Import");
  const summary = h("div", { id: "import-summary", "aria-live": "polite" });
  const errors = h("div", { id: "import-errors" });
  const progress = progressBar("Import progress");
  const status = statusLine({ id: "import-status" });
  const problem = h("div", { class: "error", role: "alert", hidden: true });
  let previewed = null; // the CSV text the last clean preview was for

  const showHint = () => { hint.textContent = KIND_HINTS[kind.value]; };
  showHint();
  kind.onchange = () => { showHint(); invalidate(); };
  text.oninput = invalidate;
  file.onchange = async () => {
    if (!file.files[0]) return;
    text.value = await file.files[0].text();
    invalidate();
  };

  function invalidate() {
    // Any change to the file needs a new preview before it can be imported.
    previewed = null;
    commitButton.disabled = true;
  }

  async function send(commit, jobId) {
    return session.call("POST", `/imports/${kind.value}`, { csv: text.value, commit, ...(jobId ? { job_id: jobId } : {}) });
  }

  function showReport(report) {
    summary.replaceChildren(h("p", {},
      h("strong", {}, `${report.rows} rows: `), `${report.creates} new, ${report.updates} changed, ${report.unchanged} unchanged`,
      report.error_count ? h("span", { class: "bad" }, ` · ${report.error_count} ${report.error_count === 1 ? "row has" : "rows have"} problems`) : h("span", { class: "ok" }, " · no problems")));
    errors.replaceChildren(report.errors.length
      ? h("div", {}, h("p", {}, "Fix these lines in the text above (or in your file), then preview again:"),
        table("Rows with problems", ["Line", "Column", "Problem"], report.errors.map((e) => [String(e.line), e.field, e.message]),
          { class: "row-errors", id: "import-error-table" }))
      : "");
  }

  previewButton.onclick = async () => {
    problem.hidden = true;
    status.textContent = "";
    if (!text.value.trim()) {
      problem.textContent = "Choose a CSV file or paste its text first.";
      problem.hidden = false;
      return;
    }
    try {
      const report = await busy(previewButton, () => send(false), "Checking…");
      showReport(report);
      previewed = report.error_count === 0 ? text.value : null;
      commitButton.disabled = previewed === null;
      if (report.error_count === 0) status.textContent = `Ready: press Import to bring in ${report.rows} rows.`;
    } catch (error) {
      problem.textContent = explain(error);
      problem.hidden = false;
    }
  };

  commitButton.onclick = async () => {
    if (previewed !== text.value) return invalidate();
    problem.hidden = true;
    const jobId = `console-${crypto.randomUUID().replace(/-/g, "").slice(0, 24)}`;
    let polling = true;
    const poll = async () => {
      while (polling) {
        try {
          const job = await session.call("GET", `/imports/jobs/${jobId}`);
          progress.update(job.done, job.total, job.phase);
        } catch { /* not started yet */ }
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
    };
    poll();
    try {
      const report = await busy(commitButton, () => send(true, jobId), "Importing…");
      polling = false;
      progress.update(report.rows, report.rows, "done");
      showReport(report);
      status.textContent = `Imported: ${report.creates} new, ${report.updates} changed, ${report.unchanged} unchanged.`;
      invalidate();
    } catch (error) {
      polling = false;
      if (error.problem?.errors && error.status === 422 && error.problem.rows !== undefined) showReport(error.problem);
      problem.textContent = explain(error);
      problem.hidden = false;
    }
  };

  panel.append(card("Import from CSV", problem,
    h("div", { class: "row" }, field("What", kind), field("CSV file", file)),
    field("File contents", text), hint,
    h("div", { class: "actions" }, previewButton, commitButton), progress.node, status, summary, errors));
}
