// Timeline review: a day or a week of entries, sorted, grouped, filtered and searched in the browser
// (one GET /timeline per period), selected in bulk and changed through the API.
//
// Deep links: #timeline?date=2026-12-03, ?week_of=…, ?start=…&end=…, plus status, group, sort, q, user_id.
// Rows are built as plain DOM into fragments, the first screenful at once and the rest in chunks, so a
// week of 500 entries appears without a pause.
import { query } from "../../shared/api.js";
import { matterLabel, resolveMatters } from "../matters.js";
import {
  addDays, busy, dayLabel, explain, field, h, hours, isoDay, minutes, mondayOf, select, statusLine, timeIn,
} from "../util.js";
import { openEditor, openSplit } from "./entry-editor.js";

const FIRST_CHUNK = 120;
const CHUNK = 250;
const STATUSES = ["unassigned", "assigned", "released", "exported", "posted"];
const KIND_LABELS = { read: "Email read", compose: "Email written", meeting: "Meeting", call: "Call", manual: "Manual" };

function periodOf(params) {
  if (params.start && params.end) return { start: params.start, end: params.end };
  if (params.week_of) { const start = mondayOf(params.week_of); return { start, end: addDays(start, 6) }; }
  if (params.date) return { start: params.date, end: params.date };
  return null; // today, in the owner's time zone: the API decides
}

export async function render(ctx, root) {
  const { session } = ctx;
  const state = {
    period: periodOf(ctx.params),
    status: ctx.params.status || "",
    group: ctx.params.group || "none",
    sort: ctx.params.sort || "start",
    q: ctx.params.q || "",
    userId: ctx.params.user_id || "",
    view: null,
    lookups: { matters: new Map(), clients: new Map() },
    events: new Map(),
    selected: new Set(),
  };
  const owner = session.actingFor.find((p) => p.user_id === state.userId);
  if (state.userId && !owner && state.userId !== session.me.user.user_id) {
    ctx.problem("You cannot open that person's timeline: they have not made you their delegate.");
    state.userId = "";
  }
  const acting = () => state.userId && state.userId !== session.me.user.user_id;
  const canWrite = () => acting()
    ? session.actingFor.find((p) => p.user_id === state.userId)?.access === "act"
    : session.can("time:write-own");
  const call = (method, path, body) => {
    // As a delegate, every timeline and entry route takes ?user_id= (the API checks the grant).
    if (!acting()) return session.call(method, path, body);
    const sep = path.includes("?") ? "&" : "?";
    return session.call(method, `${path}${sep}user_id=${encodeURIComponent(state.userId)}`, body);
  };

  // ---- layout -------------------------------------------------------------------------------------------
  const title = h("h1", { tabindex: "-1" }, "Timeline");
  const periodLabel = h("p", { class: "period-label", "aria-live": "polite" });
  const status = statusLine({ id: "timeline-status" });
  const dateInput = h("input", { type: "date", id: "tl-date" });
  const dayButton = h("button", { type: "button", class: "secondary", "aria-pressed": "false" }, "Day");
  const weekButton = h("button", { type: "button", class: "secondary", "aria-pressed": "false" }, "Week");
  const groupSelect = select([["none", "No grouping"], ["matter", "Matter"], ["client", "Client"], ["status", "Status"],
    ["source", "Source"]], state.group, { id: "tl-group" });
  const sortSelect = select([["start", "Time"], ["duration", "Duration (longest first)"], ["matter", "Matter"],
    ["client", "Client"]], state.sort, { id: "tl-sort" });
  const statusSelect = select([["", "All statuses"], ...STATUSES.map((s) => [s, s[0].toUpperCase() + s.slice(1)])],
    state.status, { id: "tl-status" });
  const search = h("input", { type: "search", id: "tl-search", value: state.q, placeholder: "Narrative, matter, client, subject, person" });
  const whose = session.actingFor.length
    ? field("Whose timeline", select([["", `Mine (${session.me.user.display_name})`],
      ...session.actingFor.map((p) => [p.user_id, `${p.display_name}${p.access === "view" ? " (view only)" : ""}`])],
    state.userId, { id: "tl-whose" }))
    : null;
  const totals = h("dl", { class: "totals", "aria-label": "Totals for the period" });
  const selectAll = h("input", { type: "checkbox", id: "tl-select-all", "aria-label": "Select every shown entry" });
  const bulk = h("div", { class: "bulk", role: "region", "aria-label": "Selected entries", hidden: true });
  const tableHost = h("div", { class: "table-wrap" });
  const empty = h("p", { class: "muted", hidden: true });

  const toolbar = h("div", { class: "toolbar", role: "group", "aria-label": "Period" },
    h("div", { class: "segmented" }, dayButton, weekButton),
    h("button", { type: "button", class: "secondary", "aria-label": "Previous period", onclick: () => shift(-1) }, "‹ Previous"),
    h("button", { type: "button", class: "secondary", onclick: () => { state.period = null; load(); } }, "Today"),
    h("button", { type: "button", class: "secondary", "aria-label": "Next period", onclick: () => shift(1) }, "Next ›"),
    field("Date", dateInput));
  const filters = h("div", { class: "toolbar", role: "group", "aria-label": "Show" },
    whose, field("Group by", groupSelect), field("Sort by", sortSelect), field("Status", statusSelect),
    field("Search", search));
  root.append(
    h("div", { class: "page-head" }, title, periodLabel),
    h("section", { class: "card", "aria-label": "Period and filters" }, toolbar, filters),
    h("section", { class: "card", "aria-labelledby": "tl-summary-title" },
      h("h2", { id: "tl-summary-title" }, "Summary"), totals, status),
    bulk,
    h("section", { class: "card entries", "aria-labelledby": "tl-entries-title" },
      h("div", { class: "entries-head" }, h("h2", { id: "tl-entries-title" }, "Entries"),
        h("label", { class: "check" }, selectAll, " Select all shown")),
      empty, tableHost),
  );

  // ---- behaviour ----------------------------------------------------------------------------------------
  function syncAddress() {
    const p = state.period;
    const params = { status: state.status, group: state.group === "none" ? "" : state.group,
      sort: state.sort === "start" ? "" : state.sort, q: state.q, user_id: state.userId };
    if (p && p.start === p.end) params.date = p.start;
    else if (p) { params.start = p.start; params.end = p.end; }
    ctx.setParams(params);
  }

  function shift(direction) {
    if (!state.period) return;
    const days = state.period.start === state.period.end ? 1 : 7;
    state.period = { start: addDays(state.period.start, direction * days), end: addDays(state.period.end, direction * days) };
    load();
  }

  dayButton.onclick = () => {
    const day = state.period?.start || isoDay(new Date());
    state.period = { start: day, end: day };
    load();
  };
  weekButton.onclick = () => {
    const start = mondayOf(state.period?.start || isoDay(new Date()));
    state.period = { start, end: addDays(start, 6) };
    load();
  };
  dateInput.onchange = () => {
    if (!dateInput.value) return;
    const week = state.period && state.period.start !== state.period.end;
    const start = week ? mondayOf(dateInput.value) : dateInput.value;
    state.period = { start, end: week ? addDays(start, 6) : start };
    load();
  };
  groupSelect.onchange = () => { state.group = groupSelect.value; syncAddress(); draw(); };
  sortSelect.onchange = () => { state.sort = sortSelect.value; syncAddress(); draw(); };
  statusSelect.onchange = () => { state.status = statusSelect.value; syncAddress(); draw(); };
  let searchTimer = null;
  search.oninput = () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => { state.q = search.value.trim(); syncAddress(); draw(); }, 150);
  };
  if (whose) {
    whose.querySelector("select").onchange = (event) => {
      state.userId = event.target.value;
      state.selected.clear();
      load();
    };
  }
  selectAll.onchange = () => {
    for (const entry of shown()) if (selectAll.checked) state.selected.add(entry.entry_id); else state.selected.delete(entry.entry_id);
    for (const box of tableHost.querySelectorAll("input[data-entry]")) box.checked = state.selected.has(box.dataset.entry);
    drawBulk();
  };

  // One listener for every row: buttons carry data-action and data-entry.
  tableHost.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const entry = state.view.entries.find((e) => e.entry_id === button.dataset.entry);
    if (entry) act(button.dataset.action, entry, button);
  });
  tableHost.addEventListener("change", (event) => {
    const box = event.target.closest("input[data-entry]");
    if (box) {
      if (box.checked) state.selected.add(box.dataset.entry); else state.selected.delete(box.dataset.entry);
      drawBulk();
    } else if (event.target.matches("input[data-group-select]")) {
      const ids = event.target.dataset.groupSelect.split(",");
      for (const id of ids) if (event.target.checked) state.selected.add(id); else state.selected.delete(id);
      for (const b of tableHost.querySelectorAll("input[data-entry]")) b.checked = state.selected.has(b.dataset.entry);
      drawBulk();
    }
  });

  async function act(action, entry, button) {
    try {
      if (action === "edit") {
        const changed = await openEditor({ session, call, entry, events: state.events, acting: acting(), canWrite: canWrite() });
        if (changed) await load(changed);
      } else if (action === "release" || action === "reopen") {
        await busy(button, () => call("POST", `/entries/${entry.entry_id}/${action}`, { version: entry.version }));
        await load(action === "release" ? "Entry released to billing." : "Entry taken back for review.");
      } else if (action === "split") {
        const done = await openSplit({ call, entry });
        if (done) await load(done);
      } else if (action === "personal") {
        if (!window.confirm("Mark this item personal? It leaves billing, and only you will ever see it.")) return;
        await busy(button, async () => {
          for (const eventId of entry.event_ids) await call("POST", `/events/${eventId}/personal`, { personal: true });
        });
        await load("Marked personal: it is out of billing and private to the timeline's owner.");
      }
    } catch (error) {
      ctx.problem(explain(error));
    }
  }

  function matches(entry, needle) {
    if (!needle) return true;
    const matter = state.lookups.matters.get(entry.matter_id);
    const client = matter && state.lookups.clients.get(matter.client_id);
    const texts = [entry.narrative, matter?.number, matter?.name, client?.name];
    for (const id of entry.event_ids) {
      const event = state.events.get(id);
      if (event) texts.push(event.subject, event.sender, ...(event.participants || []));
    }
    return texts.some((t) => t && t.toLowerCase().includes(needle));
  }

  function shown() {
    if (!state.view) return [];
    const needle = state.q.toLowerCase();
    return state.view.entries.filter((e) => (!state.status || e.status === state.status) && matches(e, needle));
  }

  function clientOf(entry) {
    const matter = state.lookups.matters.get(entry.matter_id);
    return matter ? state.lookups.clients.get(matter.client_id) : null;
  }

  function sourceOf(entry) {
    const event = state.events.get(entry.event_ids[0]);
    return event ? (KIND_LABELS[event.kind] || event.kind) : "Other";
  }

  function groupKey(entry) {
    if (state.group === "matter") return matterLabel(state.lookups.matters.get(entry.matter_id)) || "No matter yet";
    if (state.group === "client") return clientOf(entry)?.name || "No client yet";
    if (state.group === "status") return entry.status;
    if (state.group === "source") return sourceOf(entry);
    return "";
  }

  function sorted(entries) {
    const byStart = (a, b) => (a.start || "").localeCompare(b.start || "") || a.entry_id.localeCompare(b.entry_id);
    const label = (e) => matterLabel(state.lookups.matters.get(e.matter_id)) || "~";
    const compare = {
      start: byStart,
      duration: (a, b) => b.billed_seconds - a.billed_seconds || byStart(a, b),
      matter: (a, b) => label(a).localeCompare(label(b)) || byStart(a, b),
      client: (a, b) => (clientOf(a)?.name || "~").localeCompare(clientOf(b)?.name || "~") || byStart(a, b),
    }[state.sort] || byStart;
    return [...entries].sort(compare);
  }

  function row(entry, multiDay, zone) {
    const matter = state.lookups.matters.get(entry.matter_id);
    const when = `${multiDay ? `${dayLabel(entry.day)} ` : ""}${timeIn(entry.start, zone)}`;
    const writable = canWrite();
    const actions = [];
    if (writable && (entry.status === "unassigned" || entry.status === "assigned")) {
      actions.push(h("button", { type: "button", class: "link", dataset: { action: "edit", entry: entry.entry_id },
        "aria-label": `Edit entry at ${when}` }, "Edit"));
      if (entry.status === "assigned") {
        actions.push(h("button", { type: "button", class: "link", dataset: { action: "release", entry: entry.entry_id },
          "aria-label": `Release entry at ${when}` }, "Release"));
      }
      actions.push(h("button", { type: "button", class: "link", dataset: { action: "split", entry: entry.entry_id },
        "aria-label": `Split entry at ${when}` }, "Split"));
      actions.push(h("button", { type: "button", class: "link", dataset: { action: "personal", entry: entry.entry_id },
        "aria-label": `Mark entry at ${when} personal` }, "Personal"));
    } else if (writable && entry.status === "released") {
      actions.push(h("button", { type: "button", class: "link", dataset: { action: "reopen", entry: entry.entry_id },
        "aria-label": `Take back entry at ${when}` }, "Take back"));
    } else if (!writable) {
      actions.push(h("button", { type: "button", class: "link", dataset: { action: "edit", entry: entry.entry_id },
        "aria-label": `Details of entry at ${when}` }, "Details"));
    }
    return h("tr", { dataset: { entryRow: entry.entry_id, status: entry.status } },
      h("td", { class: "select" }, h("input", { type: "checkbox", dataset: { entry: entry.entry_id },
        checked: state.selected.has(entry.entry_id), disabled: !writable, "aria-label": `Select entry at ${when}: ${entry.narrative}` })),
      h("td", { class: "when" }, when),
      h("td", { class: "matter" }, matter ? [h("strong", {}, matter.number), " ", matter.name] : h("span", { class: "chip warn" }, "No matter")),
      h("td", { class: "narrative" }, entry.narrative),
      h("td", { class: "num" }, hours(entry.billed_seconds), h("span", { class: "muted small" }, ` (${minutes(entry.raw_seconds)} raw)`)),
      h("td", {}, h("span", { class: `chip status-${entry.status}` }, entry.status)),
      h("td", {}, h("div", { class: "actions" }, actions)));
  }

  function header() {
    return h("thead", {}, h("tr", {}, ["", "When", "Matter", "Narrative", "Hours", "Status", "Actions"].map((text, i) =>
      h("th", { scope: "col", class: i === 0 ? "select" : i === 4 ? "num" : "" }, i === 0 ? h("span", { class: "visually-hidden" }, "Select") : text))));
  }

  let drawTurn = 0;
  function draw() {
    const turn = ++drawTurn;
    const started = performance.now();
    const view = state.view;
    const entries = sorted(shown());
    const multiDay = view.start !== view.end;
    const table = h("table", { id: "timeline-table", "aria-describedby": "tl-entries-title", dataset: { state: "rendering" } },
      h("caption", { class: "visually-hidden" }, `Entries, ${entries.length} shown`), header());
    const groups = new Map();
    for (const entry of entries) {
      const key = groupKey(entry);
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(entry);
    }
    const queue = []; // [tbody, entries] in display order
    for (const [key, members] of groups) {
      const body = h("tbody", {});
      if (state.group !== "none") {
        const seconds = members.reduce((sum, e) => sum + e.billed_seconds, 0);
        body.append(h("tr", { class: "group-row" }, h("th", { colspan: 7, scope: "rowgroup" },
          h("label", { class: "check" }, h("input", { type: "checkbox", dataset: { groupSelect: members.map((e) => e.entry_id).join(",") },
            "aria-label": `Select all in ${key}` }), " ", h("span", { class: "group-name" }, key)),
          h("span", { class: "muted" }, ` ${hours(seconds)} h · ${members.length} ${members.length === 1 ? "entry" : "entries"}`))));
      }
      table.append(body);
      queue.push([body, members]);
    }
    empty.hidden = entries.length > 0;
    empty.textContent = view.entries.length ? "No entry matches these filters." : "Nothing captured in this period yet.";
    tableHost.replaceChildren(table);
    // First screenful now, the rest in chunks between frames, so the page answers at once.
    let budget = FIRST_CHUNK;
    let rendered = 0;
    const step = () => {
      if (turn !== drawTurn) return; // a newer draw replaced this one
      while (queue.length && budget > 0) {
        const [body, members] = queue[0];
        const fragment = document.createDocumentFragment();
        const take = members.splice(0, budget);
        for (const entry of take) fragment.append(row(entry, multiDay, view.time_zone));
        body.append(fragment);
        budget -= take.length;
        rendered += take.length;
        if (!members.length) queue.shift();
      }
      table.dataset.rendered = String(rendered);
      if (queue.length) {
        budget = CHUNK;
        requestAnimationFrame(step);
      } else {
        // How long the rows took in this browser, for support and the benchmark (never asserted).
        table.dataset.renderMs = String(Math.round(performance.now() - started));
        table.dataset.state = "ready";
      }
    };
    step();
    selectAll.checked = entries.length > 0 && entries.every((e) => state.selected.has(e.entry_id));
    drawBulk();
  }

  function drawTotals(view) {
    const t = view.totals;
    const items = [["Captured", hours(t.captured_seconds)], ["Unassigned", hours(t.unassigned_seconds)],
      ["Assigned", hours(t.assigned_seconds)], ["Released", hours(t.released_seconds)], ["Billed", hours(t.exported_seconds)]];
    if (t.personal_seconds !== null && t.personal_seconds !== undefined) items.push(["Personal (only you)", hours(t.personal_seconds)]);
    totals.replaceChildren(...items.map(([term, value]) => h("div", {}, h("dt", {}, term), h("dd", {}, `${value} h`))));
  }

  function drawBulk() {
    const count = state.selected.size;
    bulk.hidden = count === 0 || !canWrite();
    if (bulk.hidden) return;
    if (bulk.dataset.count === String(count) && bulk.childElementCount) return;
    bulk.dataset.count = String(count);
    bulk.replaceChildren(
      h("p", { class: "bulk-count", "aria-live": "polite" }, `${count} selected`),
      h("button", { type: "button", onclick: (e) => bulkAction(e.target, "assign") }, "Assign matter…"),
      h("button", { type: "button", onclick: (e) => bulkAction(e.target, "activity") }, "Set activity…"),
      h("button", { type: "button", onclick: (e) => bulkAction(e.target, "release") }, "Release"),
      h("button", { type: "button", class: "secondary", onclick: (e) => bulkAction(e.target, "personal") }, "Mark personal"),
      h("button", { type: "button", class: "secondary", onclick: () => { state.selected.clear(); draw(); } }, "Clear selection"),
    );
  }

  async function bulkAction(button, kind) {
    const ids = [...state.selected];
    let message = "";
    try {
      if (kind === "personal") {
        if (!window.confirm(`Mark ${ids.length} entries personal? They leave billing, and only the timeline's owner will see them.`)) return;
        await busy(button, async () => {
          for (const entry of state.view.entries.filter((e) => state.selected.has(e.entry_id))) {
            for (const eventId of entry.event_ids) await call("POST", `/events/${eventId}/personal`, { personal: true });
          }
        });
        message = report(ids.length, []);
      } else if (kind === "release") {
        message = await busy(button, () => sendBulk(ids, { action: "release" }), "Releasing…");
      } else {
        const { openBulkChanges } = await import("./entry-editor.js");
        const changes = await openBulkChanges({ session, call, kind, count: ids.length });
        if (!changes) return;
        message = await busy(button, () => sendBulk(ids, { changes }), "Applying…");
      }
      state.selected.clear();
      await load(message); // the outcome shows once the period is redrawn with it
    } catch (error) {
      ctx.problem(explain(error));
    }
  }

  async function sendBulk(ids, body) {
    const failures = [];
    // The API takes 200 entries per call; each entry reports its own result.
    for (let i = 0; i < ids.length; i += 200) {
      status.textContent = `Working… ${Math.min(i + 200, ids.length)} of ${ids.length}`;
      const answer = await call("POST", "/entries/bulk", { entry_ids: ids.slice(i, i + 200), ...body });
      failures.push(...answer.results.filter((r) => !r.ok));
    }
    return report(ids.length, failures);
  }

  function report(total, failures) {
    const ok = total - failures.length;
    const firstReason = failures[0]?.error;
    return failures.length
      ? `${ok} of ${total} done. ${failures.length} could not be changed: ${firstReason}${failures.length > 1 ? " (and others)" : ""}.`
      : `${total} ${total === 1 ? "entry" : "entries"} done.`;
  }

  // Fetch the period and redraw; `message` (what the last change did) shows once the redraw is done.
  async function load(message = "") {
    status.textContent = message ? "Updating…" : "";
    ctx.problem("");
    tableHost.setAttribute("aria-busy", "true");
    const params = state.period ? { start: state.period.start, end: state.period.end } : {};
    let view;
    const asked = performance.now();
    try {
      view = await call("GET", `/timeline${query(params)}`);
      root.dataset.fetchMs = String(Math.round(performance.now() - asked));
    } catch (error) {
      tableHost.removeAttribute("aria-busy");
      if (acting() && (error?.status === 403 || error?.status === 404)) {
        // The owner took the delegation back: what was on screen is no longer ours to show or change.
        const name = session.actingFor.find((p) => p.user_id === state.userId)?.display_name || "This person";
        state.view = null;
        state.selected.clear();
        tableHost.replaceChildren();
        totals.replaceChildren();
        ctx.problem(`${name} no longer shares their timeline with you. Ask them to make you their delegate again.`);
        return;
      }
      ctx.problem(explain(error));
      return;
    }
    if (!ctx.isCurrent()) return;
    state.period = { start: view.start, end: view.end };
    state.view = view;
    state.events = new Map(view.events.map((e) => [e.event_id, e]));
    for (const id of [...state.selected]) if (!view.entries.some((e) => e.entry_id === id)) state.selected.delete(id);
    state.lookups = await resolveMatters(session.call, view.entries.map((e) => e.matter_id));
    const day = view.start === view.end;
    dayButton.setAttribute("aria-pressed", String(day));
    weekButton.setAttribute("aria-pressed", String(!day));
    dateInput.value = view.start;
    const whoseName = acting() ? session.actingFor.find((p) => p.user_id === state.userId)?.display_name : null;
    title.textContent = whoseName ? `Timeline of ${whoseName}` : "Timeline";
    periodLabel.textContent = `${day ? dayLabel(view.start) : `${dayLabel(view.start)} – ${dayLabel(view.end)}`} · times in ${view.time_zone}`;
    syncAddress();
    drawTotals(view);
    tableHost.removeAttribute("aria-busy");
    draw();
    status.textContent = message;
  }

  await load();
}
