// Contractor work orders: the list (a contractor's own; staff see the firm's) with filters, a new work order
// by hand or from a template, and one work order: its PSRs (rate and unit locked when added), its billing
// transactions (product/service, timeslip, expense with receipts), complete/reopen, and bulk completion of
// a closing case's work orders.
import { query } from "../../shared/api.js";
import { matterLabel, matterPicker, resolveMatters } from "../matters.js";
import { busy, card, dialog, explain, field, h, isoDay, select, statusLine, table } from "../util.js";
import {
  BT_TYPE_LABELS, PERM, contractorAccess, facts, contractorName, contractorsByKey, downloadBase64, expenseLabel, fileToBase64,
  loadExpenseLabels, money, pricing, problemBox, quantity, refKey, statusChip,
} from "./contractor-common.js";

const PAGE = "contractor-work-orders";
// Work orders per request; more come with "Load more".
const LIST_PAGE = 200;
const RECEIPT_TYPES = "application/pdf,image/png,image/jpeg,image/heic";

export async function render(ctx, root) {
  const access = contractorAccess(ctx.session);
  root.classList.add("cw");
  if (ctx.params.id) return workOrderView(ctx, root, access, ctx.params.id);
  return workOrderList(ctx, root, access);
}

// ------------------------------------------------------------------ the list

/**
 * The linked cases' numbers and names by matter id. Work orders carry them (`cases`), so contractors, who
 * may not read /matters, see them too; an older API without them is asked /matters, where allowed.
 */
function casesOf(session, workOrders) {
  if (workOrders.every((wo) => Array.isArray(wo.cases))) {
    const known = workOrders.flatMap((wo) => wo.cases).filter((c) => c.number !== null);
    return Promise.resolve({ matters: new Map(known.map((c) => [c.matter_id, c])) });
  }
  const ids = workOrders.flatMap((wo) => wo.matter_ids);
  return session.can("matters:read") ? resolveMatters(session.call, ids) : Promise.resolve({ matters: new Map() });
}

async function workOrderList(ctx, root, access) {
  const { session } = ctx;
  const status = ["open", "complete"].includes(ctx.params.status) ? ctx.params.status : "";
  const text = ctx.params.q || "";
  const who = ctx.params.contractor || "";
  root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, access.isContractor ? "My work orders" : "Work orders")));

  let [page, byKey] = await Promise.all([
    session.call("GET", `/contractor/work-orders${query({ status, limit: LIST_PAGE })}`),
    contractorsByKey(session.call),
  ]);
  const { matters } = await casesOf(session, page.items);

  const statusSelect = select([["", "Any status"], ["open", "Open"], ["complete", "Complete"]], status, { id: "wo-status" });
  const search = h("input", { type: "search", id: "wo-search", value: text, placeholder: "Title or case number" });
  const whoSelect = access.isContractor ? null
    : select([["", "Every contractor"], ...[...byKey.values()].map((c) => [refKey(c), contractorName(byKey, c)])], who, { id: "wo-contractor" });
  const apply = () => ctx.navigate(PAGE, { status: statusSelect.value, q: search.value.trim(), contractor: whoSelect?.value || "" });
  statusSelect.onchange = apply;
  if (whoSelect) whoSelect.onchange = apply;
  search.onkeydown = (e) => { if (e.key === "Enter") apply(); };
  root.append(card("Filters", h("div", { class: "toolbar" }, field("Status", statusSelect), field("Search", search),
    whoSelect ? field("Contractor", whoSelect) : null, h("button", { type: "button", class: "secondary", onclick: apply }, "Filter"))));

  const needle = text.toLowerCase();
  const matches = (wo) => (!who || refKey(wo.assignee) === who) && (!needle ||
    wo.title.toLowerCase().includes(needle) || wo.matter_ids.some((id) => matterLabel(matters.get(id)).toLowerCase().includes(needle)));
  const listCard = () => {
    const shown = page.items.filter(matches);
    const more = h("button", { type: "button", class: "secondary", id: "wo-more" }, `Load ${LIST_PAGE} more`);
    // The search filters what is loaded: the next page (one Query) joins it and the list is drawn again.
    more.onclick = () => busy(more, async () => {
      const next = await session.call("GET", `/contractor/work-orders${query({ status, limit: LIST_PAGE, cursor: page.next_cursor })}`);
      for (const [id, matter] of (await casesOf(session, next.items)).matters) matters.set(id, matter);
      page = { items: [...page.items, ...next.items], next_cursor: next.next_cursor };
      list.replaceWith(list = listCard());
    }).catch((error) => more.after(h("p", { class: "error", role: "alert" }, explain(error))));
    return card(`${shown.length} work order${shown.length === 1 ? "" : "s"}`, shown.length
      ? table("!Work orders", ["Title", "Contractor", "Cases", "Dates", "PSRs", "Status"], shown.map((wo) => [
        h("a", { href: `#${PAGE}?id=${encodeURIComponent(wo.work_order_id)}` }, wo.title),
        contractorName(byKey, wo.assignee),
        wo.matter_ids.map((id) => matterLabel(matters.get(id)) || `case ${id}`).join("; ") || "—",
        h("span", { class: "nowrap" }, `${wo.start_date || "…"} – ${wo.end_date || "…"}`),
        String(wo.psrs.length),
        statusChip(wo.status, wo.status === "open" ? "Open" : "Complete"),
      ]), { id: "wo-table" })
      : h("p", { class: "muted" }, page.items.length ? "No work order matches these filters." : "No work orders yet."),
    page.next_cursor
      ? h("p", { class: "toolbar" }, h("span", { class: "muted" }, `${page.items.length} loaded; there are more.`), more)
      : null);
  };
  let list = listCard();
  root.append(list);

  if (access.can(PERM.workOrders)) root.append(await createForm(ctx, access, byKey));
  if (access.isStaff && access.can(PERM.workOrders)) root.append(caseCloseCard(ctx));
}

async function createForm(ctx, access, byKey) {
  const { session } = ctx;
  const [templates, products, expenses] = await Promise.all([
    session.call("GET", "/contractor/templates").catch(() => []),
    session.call("GET", "/contractor/products").catch(() => []),
    session.call("GET", "/contractor/lookups/contractor_expense_reimbursement_type").then((l) => l.values.filter((v) => v.active)).catch(() => []),
  ]);
  const problem = problemBox();
  const status = statusLine();
  const template = select([["", "None: by hand"], ...templates.map((t) => [t.template_id, t.name])], "", { id: "wo-template" });
  const assignee = access.isContractor ? null
    : select([["", "Choose a contractor or organization"], ...[...byKey.values()].filter((c) => c.active)
      .map((c) => [refKey(c), `${contractorName(byKey, c)}${c.kind === "organization" ? " (organization)" : ""}`])], "", { id: "wo-assignee" });
  const title = h("input", { id: "wo-title", maxlength: 200 });
  const description = h("textarea", { id: "wo-description", rows: 2, maxlength: 4000 });
  const start = h("input", { type: "date", id: "wo-start" });
  const end = h("input", { type: "date", id: "wo-end" });
  const cases = new Map();
  const caseList = h("ul", { class: "chips", "aria-label": "Cases on this work order" });
  const drawCases = () => caseList.replaceChildren(...[...cases.values()].map((m) => h("li", { class: "chip" }, matterLabel(m), " ",
    h("button", { type: "button", class: "link", "aria-label": `Remove case ${m.number}`, onclick: () => { cases.delete(m.matter_id); drawCases(); } }, "×"))));
  const picker = matterPicker(session.call, { label: "Add a case", onPick: (m) => { cases.set(m.matter_id, m); drawCases(); picker.input.value = ""; } });
  const productBoxes = products.filter((p) => p.active).map((p) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: "wo-product", value: p.product_id }),
    ` ${p.name} (${p.formula ? "formula" : `${money(p.default_rate)} per ${p.unit_type || "unit"}`})`));
  const expenseBoxes = expenses.map((v) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "wo-expense", value: v.key }), ` ${v.label}`));
  const create = h("button", { type: "submit" }, "Create work order");
  const form = h("form", { novalidate: true, id: "wo-create" }, problem.node,
    h("div", { class: "row" }, field("Template", template, "A template brings its PSRs, expense types and dates."), assignee ? field("Assigned to", assignee) : null),
    h("div", { class: "row" }, field("Title", title), field("Start", start), field("End", end)),
    field("Description", description),
    session.can("matters:read") ? [picker.node, caseList] : null,
    h("fieldset", {}, h("legend", {}, "Products and services (PSRs; their rates are locked when added)"),
      productBoxes.length ? h("div", { class: "cw-checks" }, productBoxes) : h("p", { class: "muted" }, "The catalog is empty: a contractor admin adds products under Contractor setup.")),
    expenseBoxes.length ? h("fieldset", {}, h("legend", {}, "Expense reimbursements allowed"), h("div", { class: "cw-checks" }, expenseBoxes)) : null,
    create, status);
  form.onsubmit = (event) => {
    event.preventDefault();
    problem.clear();
    const ref = access.isContractor ? access.self : assignee.value ? { kind: assignee.value.split("/")[0], contractor_id: assignee.value.split("/")[1] } : null;
    if (!ref) return problem.show("Choose who the work order is for.");
    if (!title.value.trim()) return problem.show("Give the work order a title.");
    busy(create, async () => {
      try {
        const created = await session.call("POST", "/contractor/work-orders", {
          assignee: ref, title: title.value.trim(), description: description.value, matter_ids: [...cases.keys()],
          start_date: start.value || null, end_date: end.value || null, template_id: template.value || null,
          items: [...form.querySelectorAll("input[name=wo-product]:checked")].map((b) => ({ product_id: b.value })),
          expense_types: [...form.querySelectorAll("input[name=wo-expense]:checked")].map((b) => b.value),
        });
        ctx.navigate(PAGE, { id: created.work_order_id });
      } catch (error) {
        problem.show(explain(error));
      }
    });
  };
  return card("New work order", form);
}

function caseCloseCard(ctx) {
  const { session } = ctx;
  let matter = null;
  const problem = problemBox();
  const result = h("div", { role: "status", "aria-live": "polite" });
  const picker = matterPicker(session.call, { label: "Case being closed", onPick: (m) => { matter = m; } });
  const silent = h("input", { type: "checkbox", id: "close-silent" });
  // Work orders also tied to other cases are completed only in silent mode (the seed's option).
  const shared = h("input", { type: "checkbox", id: "close-shared", disabled: true });
  silent.onchange = () => { shared.disabled = !silent.checked; if (!silent.checked) shared.checked = false; };
  const run = h("button", { type: "button", class: "secondary" }, "Complete its work orders");
  run.onclick = () => {
    problem.clear();
    if (!matter) return problem.show("Choose the case first.");
    busy(run, async () => {
      try {
        const done = await session.call("POST", `/contractor/cases/${encodeURIComponent(matter.matter_id)}/complete-work-orders`,
          { silent: silent.checked, complete_shared: shared.checked });
        result.replaceChildren(h("p", {}, `${done.completed.length} completed, ${done.already_complete.length} already complete, ` +
          `${done.skipped_shared.length} left open because they are tied to other cases${done.skipped_shared.length ? " (tick the option to complete them too)" : ""}.`));
      } catch (error) {
        problem.show(explain(error));
      }
    });
  };
  return card("Case closed: complete its work orders", problem.node, picker.node,
    h("div", { class: "cw-checks" }, h("label", { class: "check" }, silent, " Silent (no notifications)"),
      h("label", { class: "check" }, shared, " Also work orders tied to other cases (silent mode)")),
    h("div", {}, run), result);
}

// ------------------------------------------------------------------ one work order

async function workOrderView(ctx, root, access, workOrderId) {
  const { session } = ctx;
  const path = `/contractor/work-orders/${encodeURIComponent(workOrderId)}`;
  const view = {
    async show(message = "") {
      let detail;
      try {
        detail = await session.call("GET", path);
      } catch (error) {
        root.replaceChildren(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Work order"), h("a", { href: `#${PAGE}` }, "Back to work orders")),
          h("p", { class: "error", role: "alert" }, explain(error)));
        return;
      }
      const fragment = document.createDocumentFragment();
      await drawWorkOrder(ctx, fragment, access, detail, view);
      root.replaceChildren(fragment);
      root.querySelector("#wo-status-line").textContent = message;
    },
  };
  await view.show();
}

async function drawWorkOrder(ctx, root, access, detail, view) {
  const { session } = ctx;
  const wo = detail.work_order;
  const bts = detail.billing_transactions;
  const path = `/contractor/work-orders/${encodeURIComponent(wo.work_order_id)}`;
  const open = wo.status === "open";
  const canEdit = access.can(PERM.workOrders);
  const [byKey, { matters }, products] = await Promise.all([
    contractorsByKey(session.call), casesOf(session, [wo]),
    session.call("GET", "/contractor/products").catch(() => []),
    loadExpenseLabels(session),
  ]);
  const problem = problemBox();
  problem.node.id = "wo-problem";
  const status = statusLine({ id: "wo-status-line" });
  const attempt = (button, work, message) => busy(button, async () => {
    problem.clear();
    try {
      await work();
      await view.show(message);
    } catch (error) {
      problem.show(explain(error));
    }
  });

  root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, wo.title), statusChip(wo.status, open ? "Open" : "Complete"),
    h("a", { href: `#${PAGE}` }, "Back to work orders")), problem.node, status);
  const toggle = canEdit
    ? h("button", { type: "button", class: "secondary", id: "wo-toggle" }, open ? "Mark complete" : "Reopen")
    : null;
  if (toggle) toggle.onclick = () => attempt(toggle, () => session.call("POST", `${path}/${open ? "complete" : "reopen"}`, { version: wo.version }),
    open ? "Work order complete." : "Work order reopened.");
  root.append(card("Summary", facts([
    ["Assigned to", contractorName(byKey, wo.assignee)],
    ["Cases", wo.matter_ids.map((id) => matterLabel(matters.get(id)) || `case ${id}`).join("; ") || "—"],
    ["Dates", `${wo.start_date || "…"} – ${wo.end_date || "…"}`],
    ["Expense types", wo.expense_types.map(expenseLabel).join(", ") || "none"]]),
  wo.description ? h("p", {}, wo.description) : null, toggle,
  canEdit && open && access.isStaff ? await linkTools(ctx, wo, path, attempt, matters) : null));

  // PSRs: rate and unit locked when added; editing and deleting need their own permissions.
  const withBts = new Set(bts.map((bt) => bt.psr_id).filter(Boolean));
  const psrRows = wo.psrs.map((psr) => [
    psr.product_name, psr.formula ? `formula: ${psr.formula}` : `${money(psr.rate)} per ${psr.unit_type || "unit"}${psr.time_based ? " (time-based)" : ""}`,
    psr.rate_source.replace(/_/g, " "), quantity(psr.requested_units), psr.description || "—",
    h("span", { class: "actions" },
      canEdit && access.can(PERM.psrEdit) && open ? h("button", { type: "button", class: "link", "aria-label": `Edit PSR ${psr.product_name}`,
        onclick: () => editPsr(ctx, wo, psr, view) }, "Edit") : null,
      canEdit && access.can(PERM.deletePsr) && open ? h("button", {
        type: "button", class: "link", disabled: withBts.has(psr.psr_id), "aria-label": `Delete PSR ${psr.product_name}`,
        title: withBts.has(psr.psr_id) ? "It has billing transactions, so it stays" : null,
        onclick: (e) => attempt(e.currentTarget, () => session.call("DELETE", `${path}/psrs/${psr.psr_id}?version=${wo.version}`), "PSR deleted."),
      }, "Delete") : null),
  ]);
  const productSelect = select([["", "Choose a product or service"], ...products.filter((p) => p.active && !wo.psrs.some((x) => x.product_id === p.product_id))
    .map((p) => [p.product_id, `${p.name} (${p.formula ? "formula" : `${money(p.default_rate)} per ${p.unit_type || "unit"}`})`])], "", { id: "psr-product" });
  const psrUnits = h("input", { id: "psr-units", inputmode: "decimal", placeholder: "optional" });
  const addPsr = h("button", { type: "button", class: "secondary" }, "Add PSR");
  addPsr.onclick = () => {
    if (!productSelect.value) return problem.show("Choose the product or service to add.");
    attempt(addPsr, () => session.call("POST", `${path}/psrs`, { version: wo.version, product_id: productSelect.value, requested_units: psrUnits.value.trim() || null }),
      "PSR added; its rate is locked from the contractor's fee structure or the catalog.");
  };
  root.append(card("Products and services requested (PSRs)",
    wo.psrs.length ? table("!PSRs", ["Product or service", "Rate (locked)", "Rate from", "Requested", "Description", ""], psrRows, { id: "psr-table" })
      : h("p", { class: "muted" }, "No PSRs yet."),
    withBts.size > 0 && access.can(PERM.deletePsr) ? h("p", { class: "hint" }, "A PSR with billing transactions cannot be deleted.") : null,
    canEdit && open ? h("div", { class: "toolbar" }, field("Product or service", productSelect), field("Units requested", psrUnits), addPsr) : null));

  // Billing transactions.
  const btRows = bts.map((bt) => [
    h("span", { class: "nowrap" }, bt.work_date), BT_TYPE_LABELS[bt.bt_type], h("span", {}, bt.description || "—", receiptButtons(session, path, bt.receipts)),
    pricing(bt),
    h("span", { class: "num" }, money(bt.amount)), statusChip(bt.status),
    bt.invoice_id ? h("a", { href: `#contractor-invoices?id=${encodeURIComponent(bt.invoice_id)}` }, bt.invoice_id) : "—",
    access.can(PERM.deleteBt) && ["pending", "disputed"].includes(bt.status) && !bt.invoice_id
      ? h("button", { type: "button", class: "link", "aria-label": `Delete transaction of ${bt.work_date} ${money(bt.amount)}`,
        onclick: (e) => attempt(e.currentTarget, () => session.call("DELETE", `${path}/billing-transactions/${bt.bt_id}?version=${bt.version}`), "Transaction deleted.") }, "Delete")
      : "",
  ]);
  root.append(card("Billing transactions",
    bts.length ? table("!Billing transactions", ["Date", "Type", "Description", "Quantity or kind", "Amount", "Status", "Invoice", ""], btRows, { id: "wo-bts", class: "cw-bts" })
      : h("p", { class: "muted" }, "Nothing logged yet."),
    canEdit && open ? logForm(ctx, wo, matters, path, view) : null));
}

/** Link another case, unlink one, or allow another expense type, while the work order is open. */
async function linkTools(ctx, wo, path, attempt, matters) {
  const { session } = ctx;
  const parts = [];
  if (session.can("matters:read")) {
    const picker = matterPicker(session.call, { label: "Link a case", onPick: (m) => {
      attempt(picker.input, () => session.call("POST", `${path}/cases`, { version: wo.version, link: [m.matter_id] }), `Case ${m.number} linked.`);
    } });
    parts.push(picker.node);
    if (wo.matter_ids.length) {
      parts.push(h("div", { class: "actions" }, wo.matter_ids.map((id) => h("button", {
        type: "button", class: "link", "aria-label": `Unlink case ${matterLabel(matters.get(id)) || id}`,
        onclick: (e) => attempt(e.currentTarget, () => session.call("POST", `${path}/cases`, { version: wo.version, unlink: [id] }), "Case unlinked."),
      }, `Unlink ${matters.get(id)?.number || id}`))));
    }
  }
  const expenses = await session.call("GET", "/contractor/lookups/contractor_expense_reimbursement_type")
    .then((l) => l.values.filter((v) => v.active && !wo.expense_types.includes(v.key))).catch(() => []);
  if (expenses.length) {
    const type = select(expenses.map((v) => [v.key, v.label]), expenses[0].key, { id: "wo-allow-expense" });
    const allow = h("button", { type: "button", class: "secondary" }, "Allow");
    allow.onclick = () => attempt(allow, () => session.call("POST", `${path}/expense-types`, { version: wo.version, expense_type: type.value }),
      "Expense type allowed.");
    parts.push(h("div", { class: "toolbar" }, field("Allow an expense type", type), allow));
  }
  return parts.length ? h("details", { class: "cw-behalf" }, h("summary", {}, "Cases and expense types"), parts) : null;
}

function editPsr(ctx, wo, psr, view) {
  const problem = problemBox();
  const description = h("textarea", { id: "psr-edit-description", rows: 2 }, psr.description);
  const units = h("input", { id: "psr-edit-units", inputmode: "decimal", value: psr.requested_units ?? "" });
  const rate = h("input", { id: "psr-edit-rate", inputmode: "decimal", value: psr.rate ?? "" });
  const save = h("button", { type: "button" }, "Save");
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const box = dialog(`Edit PSR: ${psr.product_name}`, h("div", {}, problem.node, field("Description", description), field("Units requested", units),
    psr.formula ? null : field("Rate", rate, "Applies to transactions logged from now on; those already logged keep theirs.")), [save, cancel]);
  cancel.onclick = () => box.close();
  save.onclick = () => busy(save, async () => {
    const changes = { version: wo.version, description: description.value };
    if (units.value.trim()) changes.requested_units = units.value.trim();
    if (!psr.formula && rate.value.trim() && rate.value.trim() !== String(psr.rate)) changes.rate = rate.value.trim();
    try {
      await ctx.session.call("PATCH", `/contractor/work-orders/${encodeURIComponent(wo.work_order_id)}/psrs/${psr.psr_id}`, changes);
      box.close();
      await view.show("PSR saved.");
    } catch (error) {
      problem.show(explain(error));
    }
  });
}

function logForm(ctx, wo, matters, path, view) {
  const { session } = ctx;
  const problem = problemBox();
  const kinds = [["product_service", "Product/service"], ["timeslip", "Timeslip"], ["expense_reimbursement", "Expense"]];
  let kind = "product_service";
  const radios = h("fieldset", { class: "cw-kind" }, h("legend", {}, "Kind of transaction"), kinds.map(([id, label]) =>
    h("label", { class: "check" }, h("input", { type: "radio", name: "bt-kind", value: id, checked: id === kind,
      onchange: () => { kind = id; draw(); } }), ` ${label}`)));
  const date = h("input", { type: "date", id: "bt-date", value: isoDay(new Date()) });
  const description = h("textarea", { id: "bt-description", rows: 2, maxlength: 4000 });
  const caseSelect = wo.matter_ids.length > 1
    ? select(wo.matter_ids.map((id) => [id, matterLabel(matters.get(id)) || id]), wo.matter_ids[0], { id: "bt-case" }) : null;
  const specific = h("div", { class: "row" });
  const save = h("button", { type: "button" }, "Log transaction");
  let controls = {};

  function draw() {
    controls = {};
    // Time-based PSRs take timeslips only; the others take product/service transactions.
    const psrs = wo.psrs.filter((p) => p.time_based === (kind === "timeslip"));
    if (kind === "expense_reimbursement") {
      controls.expense = select(wo.expense_types.map((t) => [t, expenseLabel(t)]), wo.expense_types[0], { id: "bt-expense-type" });
      controls.amount = h("input", { id: "bt-amount", inputmode: "decimal", placeholder: "42.50" });
      controls.file = h("input", { type: "file", id: "bt-receipt", accept: RECEIPT_TYPES, multiple: true });
      specific.replaceChildren(
        wo.expense_types.length ? field("Expense type", controls.expense) : h("p", { class: "muted" }, "No expense types are allowed on this work order; staff can add one."),
        field("Amount", controls.amount, "Dollars and cents."),
        field("Receipts", controls.file, "PDF, PNG, JPEG or HEIC, at most 5 MB each."));
      return;
    }
    controls.psr = select(psrs.map((p) => [p.psr_id, `${p.product_name} (${p.formula ? "formula" : `${money(p.rate)} per ${p.unit_type || "unit"}`})`]), psrs[0]?.psr_id, { id: "bt-psr" });
    const psrField = psrs.length ? field("PSR", controls.psr)
      : h("p", { class: "muted" }, kind === "timeslip" ? "No time-based PSR on this work order: timeslips need one." : "No PSRs on this work order yet.");
    if (kind === "timeslip") {
      controls.minutes = h("input", { id: "bt-minutes", type: "number", min: 1, max: 1440 });
      specific.replaceChildren(psrField, field("Minutes", controls.minutes, "Priced as minutes ÷ minutes per unit × rate."));
      return;
    }
    const psr = () => wo.psrs.find((p) => p.psr_id === controls.psr.value);
    controls.units = h("input", { id: "bt-units", inputmode: "decimal", placeholder: "1" });
    controls.first = h("input", { id: "bt-input-1", inputmode: "decimal" });
    controls.second = h("input", { id: "bt-input-2", inputmode: "decimal" });
    const units = field("Units", controls.units, "Priced as units × the PSR's locked rate.");
    const formula = h("div", { class: "row" }, field("First formula input", controls.first), field("Second formula input", controls.second));
    const sync = () => { const f = Boolean(psr()?.formula); units.hidden = f; formula.hidden = !f; };
    controls.psr.onchange = sync;
    specific.replaceChildren(psrField, units, formula);
    if (psrs.length) sync(); else formula.hidden = true;
  }
  draw();

  save.onclick = () => busy(save, async () => {
    problem.clear();
    try {
      const body = { bt_type: kind, work_date: date.value, description: description.value, matter_id: caseSelect?.value || null };
      if (kind === "expense_reimbursement") {
        body.expense_type = controls.expense.value;
        body.amount = controls.amount.value.trim();
        body.receipt_ids = [];
        for (const file of controls.file.files) {
          const uploaded = await session.call("POST", `${path}/receipts`, {
            file_name: file.name, content_type: file.type || "application/octet-stream", content_base64: await fileToBase64(file) });
          body.receipt_ids.push(uploaded.document_id);
        }
      } else {
        body.psr_id = controls.psr.value;
        if (kind === "timeslip") body.minutes = Number(controls.minutes.value);
        else if (wo.psrs.find((p) => p.psr_id === body.psr_id)?.formula) body.formula_inputs = [controls.first.value.trim(), controls.second.value.trim()];
        else body.units = controls.units.value.trim();
      }
      const bt = await session.call("POST", `${path}/billing-transactions`, body);
      await view.show(`Logged ${money(bt.amount)}; it waits in the pending pool for an invoice.`);
    } catch (error) {
      problem.show(explain(error));
    }
  });
  return h("section", { class: "cw-log", "aria-labelledby": "bt-log-title" }, h("h3", { id: "bt-log-title" }, "Log a transaction"), problem.node,
    radios, h("div", { class: "row" }, field("Work date", date), caseSelect ? field("Case", caseSelect) : null), specific,
    field("Description", description, "Required for a timeslip: it becomes the case's service record."), save);
}

function receiptButtons(session, path, receipts) {
  if (!receipts?.length) return null;
  return h("span", { class: "small" }, receipts.map((r) => h("button", {
    type: "button", class: "link", "aria-label": `Download receipt ${r.file_name}`,
    onclick: async () => {
      const file = await session.call("GET", `${path}/receipts/${encodeURIComponent(r.document_id)}`);
      downloadBase64(r.file_name, file.content_base64, r.content_type);
    },
  }, ` Receipt: ${r.file_name}`)));
}
