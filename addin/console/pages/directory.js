// Clients, matters and contacts: browse them, and bring them in from CSV (preview with row errors, fix the
// file right here, commit with progress). One matter opens in its own view (#directory?matter=<id>): its
// facts, and for those who may write matters an edit form and "Close matter".
import { allPages, busy, card, dialog, explain, field, h, isoDay, progressBar, select, statusLine, table } from "../util.js";
import { clientById, matterChanges, matterFieldErrors, matterHref, parseLanguages, remember } from "../matters.js";

const TABS = [["matters", "Matters"], ["clients", "Clients"], ["contacts", "Contacts"], ["import", "Import CSV"]];

export async function render(ctx, root) {
  if (ctx.params.matter) return matterView(ctx, root, ctx.params.matter);
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
    matters: [["Number", (m) => h("a", { href: matterHref(m.matter_id), class: "matter-link" }, m.number)], ["Name", (m) => m.name], ["Client", (m) => clientNames.get(m.client_id) || ""],
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

const BILLING_METHODS = [["hourly", "Hourly"], ["flat_fee", "Flat fee"], ["contingency", "Contingency"], ["pro_bono", "Pro bono"]];
const STATUS_LABELS = { open: "Open", pending: "Pending", closed: "Closed" };
const FIELD_LABELS = {
  name: "name", responsible_user_id: "responsible attorney", billing_method: "billing", utbms_required: "UTBMS codes",
  rounding_increment_seconds: "rounding", problem_code: "legal problem code", languages: "client languages",
};

/** Minutes for display, without trailing zeros: 360 s → "6", 45 s → "0.75". */
function minutesOf(seconds) {
  return String(Number((seconds / 60).toFixed(2)));
}

/**
 * One matter: its facts and, for people who may write matters, an edit form and "Close matter". The form
 * sends only what changed, with the version it was read at, so a change someone made meanwhile answers 409
 * and nothing is overwritten.
 */
async function matterView(ctx, root, matterId) {
  const { session } = ctx;
  const canWrite = session.can("matters:write");
  const path = `/matters/${encodeURIComponent(matterId)}`;
  const heading = h("h1", { tabindex: "-1", id: "matter-heading" }, "Matter");
  const notice = h("div", { class: "error", role: "alert", id: "matter-problem", hidden: true });
  const body = h("div", { id: "matter-view", class: "grid-2 matter-view" });
  root.append(
    h("p", { class: "crumbs" }, h("a", { href: "#directory?tab=matters" }, "← All matters")),
    h("div", { class: "page-head" }, heading), notice, body);

  // The roster names the responsible attorney; the legal problem code lookup is the contractor module's and
  // is readable only with a contractor permission: without it the code is typed as a key.
  const [loaded, people, codes] = await Promise.all([
    session.call("GET", path).then((matter) => ({ matter }), (error) => ({ error })),
    session.can("roster:read") ? allPages(session.call, "/users").catch(() => null) : null,
    session.call("GET", "/contractor/lookups/legal_problem_code").then(
      (table) => ({ values: [...table.values].sort((a, b) => a.sort_order - b.sort_order || a.label.localeCompare(b.label)) }),
      (error) => ({ values: null, forbidden: error?.status === 403 })),
  ]);
  if (!ctx.isCurrent()) return;
  if (loaded.error) {
    showNotice(loaded.error.status === 404 ? "There is no such matter in your firm. Go back to the list and pick another." : explain(loaded.error));
    return;
  }
  const client = await clientById(session.call, loaded.matter.client_id);
  const usersById = new Map((people || []).map((user) => [user.user_id, user]));
  const personName = (id) => usersById.get(id)?.display_name || id;
  const codeLabel = (key) => {
    const value = codes.values?.find((v) => v.key === key);
    return value ? `${value.label} (${key})` : key;
  };
  let current = loaded.matter;
  draw(current);

  function showNotice(...content) {
    notice.replaceChildren(...content.filter(Boolean));
    notice.hidden = false;
  }

  function hideNotice() {
    notice.replaceChildren();
    notice.hidden = true;
  }

  function showStale() {
    const reload = h("button", { type: "button", id: "matter-reload", class: "secondary" }, "Reload");
    reload.onclick = async () => {
      try {
        const fresh = await busy(reload, () => session.call("GET", path), "Reloading…");
        hideNotice();
        draw(fresh, "Reloaded: this is the matter as it is now. Make your change again if it is still needed.");
      } catch (error) {
        showNotice(explain(error));
      }
    };
    showNotice(
      h("p", {}, h("strong", {}, "Someone changed this matter; reload it"), " to see their change, then make yours again. Your change was not saved."),
      reload);
    reload.focus();
  }

  function fact(key, label, value) {
    return [h("dt", {}, label), h("dd", { dataset: { fact: key } }, value)];
  }

  function draw(matter, message = "") {
    current = matter;
    remember(matter); // other pages (the timeline) show the matter as saved here
    heading.textContent = `${matter.number} ${matter.name}`;
    const ids = Object.entries(matter.external_ids).map(([k, v]) => `${k}=${v}`).join(", ");
    const facts = card("Matter facts",
      h("dl", { class: "facts", id: "matter-facts" },
        fact("number", "Number", matter.number),
        fact("name", "Name", matter.name),
        fact("client", "Client", client?.name || matter.client_id),
        fact("status", "Status", h("span", { class: `chip matter-status-${matter.status}` }, STATUS_LABELS[matter.status] || matter.status)),
        fact("opened_on", "Opened", matter.opened_on || "—"),
        matter.closed_on ? fact("closed_on", "Closed", matter.closed_on) : null,
        fact("responsible", "Responsible attorney", matter.responsible_user_id ? personName(matter.responsible_user_id) : "Nobody"),
        fact("billing", "Billing", BILLING_METHODS.find(([v]) => v === matter.billing_method)?.[1] || matter.billing_method),
        fact("utbms", "UTBMS codes", matter.utbms_required ? "Required" : "Not required"),
        fact("rounding", "Rounding", matter.rounding_increment_seconds ? `${minutesOf(matter.rounding_increment_seconds)} min` : "The client's, else the firm's"),
        fact("problem_code", "Legal problem code", matter.problem_code ? codeLabel(matter.problem_code) : "—"),
        fact("languages", "Client languages", matter.languages.length
          ? h("ul", { class: "chips" }, matter.languages.map((language) => h("li", { class: "chip" }, language))) : "—"),
        fact("contacts", "Contacts", String(matter.contact_ids.length)),
        fact("external_ids", "External ids", ids || "—"),
        fact("version", "Version", String(matter.version))));
    if (!canWrite) {
      facts.append(h("p", { class: "hint" }, "Changing a matter needs a firm admin or a billing manager."));
      body.replaceChildren(facts);
      return;
    }
    const side = h("div", {}, facts, matter.status !== "closed" ? closeCard(matter) : reopenCard(matter));
    body.replaceChildren(editCard(matter, message), side);
  }

  function editCard(matter, message) {
    const entries = {};
    const add = (name, label, control, hint) => {
      const node = control.tagName === "INPUT" && control.type === "checkbox"
        ? h("div", { class: "field" }, h("span", { class: "label", "aria-hidden": "true" }, label), h("label", { class: "check" }, control, " UTBMS codes required"))
        : field(label, control, hint);
      const error = h("p", { class: "field-error", id: `${control.id}-error`, hidden: true });
      node.append(error);
      entries[name] = { node, control, error };
      return node;
    };
    const name = h("input", { id: "matter-name", value: matter.name, autocomplete: "off" });
    const billing = select(BILLING_METHODS, matter.billing_method, { id: "matter-billing" });
    const utbms = h("input", { type: "checkbox", id: "matter-utbms", checked: matter.utbms_required });
    const rounding = h("input", { type: "number", id: "matter-rounding", step: "any", inputmode: "decimal",
      value: matter.rounding_increment_seconds ? minutesOf(matter.rounding_increment_seconds) : "" });
    const languages = h("input", { id: "matter-languages", value: matter.languages.join(", "), autocomplete: "off" });
    const preview = h("ul", { class: "chips", id: "matter-languages-preview", "aria-label": "Languages to save" });
    const showLanguages = () => preview.replaceChildren(...parseLanguages(languages.value).map((l) => h("li", { class: "chip" }, l)));
    languages.oninput = showLanguages;
    showLanguages();

    let responsible;
    if (people) {
      // Attorneys who can still sign in; whoever is responsible now stays choosable whatever their roles.
      const attorneys = people.filter((u) => u.roles.includes("attorney") && u.status !== "disabled")
        .sort((a, b) => a.display_name.localeCompare(b.display_name));
      const options = [["", "Nobody"], ...attorneys.map((u) => [u.user_id, u.display_name])];
      if (matter.responsible_user_id && !attorneys.some((u) => u.user_id === matter.responsible_user_id)) {
        options.push([matter.responsible_user_id, personName(matter.responsible_user_id)]);
      }
      responsible = select(options, matter.responsible_user_id || "", { id: "matter-responsible" });
    } else {
      responsible = h("input", { id: "matter-responsible", value: matter.responsible_user_id || "", autocomplete: "off" });
    }

    let problemCode;
    let codeHint = "Sets the case's contractor allocation. Empty clears it.";
    if (codes.values) {
      const options = [["", "None"], ...codes.values.filter((v) => v.active).map((v) => [v.key, `${v.label} (${v.key})`])];
      if (matter.problem_code && !options.some(([key]) => key === matter.problem_code)) {
        options.push([matter.problem_code, `${matter.problem_code} (not an active code)`]);
      }
      problemCode = select(options, matter.problem_code || "", { id: "matter-problem-code" });
    } else {
      problemCode = h("input", { id: "matter-problem-code", value: matter.problem_code || "", autocomplete: "off", spellcheck: "false" });
      codeHint = codes.forbidden
        ? "The list of codes belongs to the contractor module, which you cannot read: type the code's key (e.g. housing). Empty clears it."
        : "The list of codes could not be loaded: type the code's key (e.g. housing). Empty clears it.";
    }

    const save = h("button", { type: "submit", id: "matter-save" }, "Save changes");
    const status = statusLine({ id: "matter-status" });
    status.textContent = message;
    const form = h("form", { id: "matter-form", novalidate: true, "aria-labelledby": "card-edit-matter" },
      add("name", "Name", name),
      add("responsible_user_id", "Responsible attorney", responsible,
        people ? null : "The roster is not readable with your permissions: type the person's user id, or leave it empty."),
      h("div", { class: "row" }, add("billing_method", "Billing", billing), add("utbms_required", "UTBMS codes", utbms)),
      add("rounding_increment_seconds", "Rounding (minutes)", rounding, "Empty: the client's rounding, else the firm's. 6 is a tenth of an hour."),
      add("problem_code", "Legal problem code", problemCode, codeHint),
      add("languages", "Client languages", languages, "The languages the client speaks, separated by commas, e.g. Spanish, Vietnamese."),
      preview,
      h("div", { class: "actions" }, save), status);

    function clearErrors() {
      for (const entry of Object.values(entries)) {
        entry.error.hidden = true;
        entry.error.textContent = "";
        entry.control.removeAttribute("aria-invalid");
        const described = (entry.control.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== entry.error.id);
        if (described.length) entry.control.setAttribute("aria-describedby", described.join(" "));
        else entry.control.removeAttribute("aria-describedby");
      }
    }

    /** Put each field's messages beside it; answer the messages that name no field of this form. */
    function showErrors(byField) {
      const elsewhere = [];
      let first = null;
      for (const [fieldName, messages] of byField) {
        const entry = entries[fieldName];
        if (!entry) {
          elsewhere.push(`${fieldName || "matter"}: ${messages.join("; ")}`);
          continue;
        }
        // The API counts rounding in seconds (1 to 3600) and says so; this form asks for minutes.
        mark(entry, fieldName === "rounding_increment_seconds"
          ? "Enter more than 0 and at most 60 minutes, or leave it empty."
          : messages.join("; "));
        first ??= entry.control;
      }
      first?.focus();
      return elsewhere;
    }

    function mark(entry, text) {
      entry.error.textContent = text;
      entry.error.hidden = false;
      entry.control.setAttribute("aria-invalid", "true");
      entry.control.setAttribute("aria-describedby", [entry.control.getAttribute("aria-describedby"), entry.error.id].filter(Boolean).join(" "));
    }

    form.onsubmit = async (event) => {
      event.preventDefault();
      hideNotice();
      clearErrors();
      status.textContent = "";
      if (rounding.validity.badInput) {
        // A number field holding text reads as empty, which would clear the rounding: refuse it here.
        mark(entries.rounding_increment_seconds, "Enter a number of minutes, or leave it empty.");
        rounding.focus();
        return;
      }
      const wanted = {
        name: name.value.trim(),
        responsible_user_id: responsible.value.trim() || null,
        billing_method: billing.value,
        utbms_required: utbms.checked,
        rounding_increment_seconds: rounding.value.trim() === "" ? null : Math.round(Number(rounding.value) * 60),
        problem_code: problemCode.value.trim() || null,
        languages: parseLanguages(languages.value),
      };
      const changes = matterChanges(current, wanted);
      if (!Object.keys(changes).length) {
        status.textContent = "Nothing changed, so nothing was saved.";
        return;
      }
      try {
        const saved = await busy(save, () => session.call("PATCH", path, { version: current.version, ...changes }), "Saving…");
        if (!ctx.isCurrent()) return;
        draw(saved, `Saved: ${Object.keys(changes).map((key) => FIELD_LABELS[key] || key).join(", ")}.`);
      } catch (error) {
        if (error?.status === 409) return showStale();
        if (error?.status === 422) {
          const elsewhere = showErrors(matterFieldErrors(error));
          showNotice(h("p", {}, "The matter was not saved: correct the fields marked below and save again."),
            elsewhere.length ? h("ul", {}, elsewhere.map((text) => h("li", {}, text))) : null);
          return;
        }
        showNotice(explain(error));
      }
    };
    return card("Edit matter", form);
  }

  function closeCard(matter) {
    const button = h("button", { type: "button", class: "danger", id: "matter-close" }, "Close matter");
    button.onclick = () => confirmClose();
    return card("Close matter",
      h("p", { class: "hint" }, "A closed matter is no longer offered for new time. Its entries and history stay."),
      h("div", { class: "actions" }, button));
  }

  // Post-judgment work, an appeal, a client back with the same problem: a closed matter can open again.
  function reopenCard(matter) {
    const button = h("button", { type: "button", class: "secondary", id: "matter-reopen" }, "Reopen matter");
    button.onclick = () => busy(button, async () => {
      try {
        const reopened = await session.call("PATCH", path, { version: current.version, status: "open" });
        hideNotice();
        draw(reopened, "Reopened: the matter is offered for new time again.");
        heading.focus();
      } catch (error) {
        if (error?.status === 409) return showStale();
        showNotice(explain(error));
      }
    }, "Reopening…");
    return card("Reopen matter",
      h("p", { class: "hint" }, `Closed on ${matter.closed_on || "an unknown day"}. Reopening offers it for new time again.`),
      h("div", { class: "actions" }, button));
  }

  function confirmClose() {
    const day = h("input", { type: "date", id: "matter-closed-on", value: isoDay(new Date()) });
    const problem = h("div", { class: "error", role: "alert", hidden: true });
    const yes = h("button", { type: "button", class: "danger", id: "matter-close-confirm" }, "Close matter");
    const no = h("button", { type: "button", class: "secondary" }, "Cancel");
    const box = dialog(`Close ${current.number}?`,
      h("div", {}, problem,
        h("p", {}, `“${current.name}” will no longer be offered for new time. You can reopen it later.`),
        field("Closed on", day)),
      [yes, no]);
    no.onclick = () => box.close();
    // Escape closes a <dialog> natively; remove it the same way Cancel does.
    box.node.addEventListener("cancel", (event) => { event.preventDefault(); box.close(); });
    no.focus();
    yes.onclick = async () => {
      problem.hidden = true;
      try {
        const closed = await busy(yes, () => session.call("POST", `${path}/close`, { version: current.version, ...(day.value ? { closed_on: day.value } : {}) }), "Closing…");
        box.close();
        hideNotice();
        draw(closed, `Closed on ${closed.closed_on}.`);
        heading.focus();
      } catch (error) {
        if (error?.status === 409) {
          box.close();
          return showStale();
        }
        problem.textContent = explain(error);
        problem.hidden = false;
      }
    };
  }
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
