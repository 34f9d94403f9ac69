// Contractor invoices: the queue by status (tabs), a new invoice from a contractor's pending billing
// transactions, and one invoice's review — per-BT verify/dispute/deny, the dispute loop, approval, pay
// period, payment, notes, totals by category — plus bulk actions with a result per invoice.
//
// The buttons on an invoice are exactly the API's `available_actions` for the caller, so nothing offered
// can answer 403. Money is shown as the API's decimal strings, formatted without floats (`money`).
import { query } from "../../shared/api.js";
import { actorNamer } from "../people.js";
import { busy, card, dateTime, dialog, explain, field, h, select, statusLine, table } from "../util.js";
import {
  BT_STATUS_LABELS, BT_TYPE_LABELS, INVOICE_STATUSES, PERM, contractorAccess, loadExpenseLabels, pricing, unitWord, contractorName, contractorsByKey,
  downloadBase64, facts as factList, humanize, invoiceStatusLabel, lookupLabels, loadChart, money, problemBox, quantity, refKey, statusChip, sumMoney, tabPanel, tabs,
} from "./contractor-common.js";

const PAGE = "contractor-invoices";
// Rows per request: a queue longer than this shows a "Show more" button.
const LIST_PAGE = 200;

// The whole-invoice actions, in the order a reviewer meets them, with their button labels.
const INVOICE_BUTTONS = [
  ["submit", "Submit for review"],
  ["resubmit", "Resubmit"],
  ["return_to_draft", "Return to draft"],
  ["verify", "Verify invoice"],
  ["dispute", "Dispute invoice"],
  ["approve", "Approve for payment…"],
  ["unapprove", "Un-approve"],
  ["schedule", "Schedule payment…"],
  ["pay", "Record payment…"],
  ["delete", "Delete invoice…"],
];

// What the contractor normally does; staff may too, so for them these sit apart.
const CONTRACTOR_SIDE = new Set(["submit", "resubmit", "return_to_draft", "delete"]);

// Bulk actions and the permission each needs (the API reports each invoice's own outcome).
// Each is offered only on the tab of a status it applies to (domain/contractors/invoices.py, ALLOWED_FROM).
const BULK_ACTIONS = [
  ["verify", "Verify", PERM.verify, ["submitted"]],
  ["approve", "Approve for payment", PERM.approve, ["verified"]],
  ["unapprove", "Un-approve", PERM.approve, ["approved"]],
  ["schedule", "Schedule payment", PERM.schedule, ["approved", "payment_scheduled"]],
  ["pay", "Record payment", PERM.pay, ["payment_scheduled"]],
];

export async function render(ctx, root) {
  const access = contractorAccess(ctx.session);
  root.classList.add("cw");
  if (ctx.params.id) return invoiceView(ctx, root, access, ctx.params.id);
  if (ctx.params.new) return newInvoice(ctx, root, access);
  return invoiceList(ctx, root, access);
}

// ------------------------------------------------------------------ the queue

async function invoiceList(ctx, root, access) {
  const { session } = ctx;
  // Staff work a queue by status (one Query each); a contractor sees all of their own, or one status.
  const statuses = access.isContractor ? [["", "All"], ...INVOICE_STATUSES] : INVOICE_STATUSES;
  const status = statuses.some(([id]) => id === (ctx.params.status ?? "")) ? (ctx.params.status ?? "") : statuses[0][0];
  const head = h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Invoices"),
    access.can(PERM.invoices)
      ? h("a", { class: "button", href: `#${PAGE}?new=1`, id: "new-invoice" }, "New invoice")
      : null);
  const panel = tabPanel(status);
  root.append(head, tabs("Invoices by status", statuses, status, (next) => ctx.navigate(PAGE, { status: next })), panel);

  const path = `/contractor/invoices${query({ status, limit: LIST_PAGE })}`;
  let page;
  try {
    page = await session.call("GET", path);
  } catch (error) {
    panel.append(h("p", { class: "error", role: "alert" }, explain(error)));
    return;
  }
  const invoices = page.items;
  const bulkActions = access.isStaff
    ? BULK_ACTIONS.filter(([, , permission, from]) => access.can(permission) && from.includes(status)) : [];
  const selected = new Set();
  const status_ = statusLine({ id: "invoice-list-status" });
  const results = h("div", { id: "bulk-results" });
  const count = h("span", { class: "bulk-count" }, "0 selected");
  const actionSelect = select([["", "Choose an action"], ...bulkActions.map(([id, label]) => [id, label])], "", { id: "bulk-action" });
  const extra = h("div", { class: "row" });
  const apply = h("button", { type: "button", disabled: true }, "Apply");
  actionSelect.onchange = () => bulkParams(session, actionSelect.value, extra).then(refresh);
  const bulkBar = bulkActions.length && invoices.length
    ? h("section", { class: "cw-bulk", "aria-label": "Selected invoices" }, count,
      field("Action", actionSelect), extra, apply)
    : null;

  function refresh() {
    count.textContent = `${selected.size} selected`;
    apply.disabled = !selected.size || !actionSelect.value;
    apply.textContent = selected.size ? `Apply to ${selected.size}` : "Apply";
  }

  const all = bulkActions.length
    ? h("input", { type: "checkbox", "aria-label": "Select every invoice shown", onchange: (e) => {
      for (const box of panel.querySelectorAll("input[data-invoice]")) {
        box.checked = e.target.checked;
        if (box.checked) selected.add(box.dataset.invoice); else selected.delete(box.dataset.invoice);
      }
      refresh();
    } })
    : null;
  const rowFor = (inv) => h("tr", { dataset: { invoiceRow: inv.invoice_id, status: inv.status } },
    all ? h("td", { class: "select" }, h("input", {
      type: "checkbox", dataset: { invoice: inv.invoice_id }, "aria-label": `Select invoice ${inv.invoice_id} of ${inv.contractor_name}`,
      onchange: (e) => { if (e.target.checked) selected.add(inv.invoice_id); else selected.delete(inv.invoice_id); refresh(); },
    })) : null,
    h("td", {}, h("a", { href: `#${PAGE}?id=${encodeURIComponent(inv.invoice_id)}` }, inv.invoice_id)),
    h("td", {}, inv.contractor_name),
    h("td", { class: "inv-status" }, statusChip(inv.status)),
    h("td", { class: "when" }, inv.invoice_date || "—"),
    h("td", { class: "when" }, inv.due_date || "—"),
    h("td", { class: "num" }, String(inv.bt_count)),
    h("td", { class: "num" }, money(inv.total)));
  const tbody = h("tbody", {}, invoices.map(rowFor));
  // Long queues come a page at a time (one Query each); the rows join the same table and selection.
  let cursor = page.next_cursor;
  const shownCount = h("span", { class: "muted" }, `${invoices.length} shown`);
  const more = h("button", { type: "button", class: "secondary", id: "invoice-more" }, `Show ${LIST_PAGE} more`);
  more.onclick = () => busy(more, async () => {
    try {
      const next = await session.call("GET", `/contractor/invoices${query({ status, limit: LIST_PAGE, cursor })}`);
      tbody.append(...next.items.map(rowFor));
      cursor = next.next_cursor;
      more.closest("p").hidden = !cursor;
      shownCount.textContent = `${tbody.rows.length} shown`;
    } catch (error) {
      results.replaceChildren(h("p", { class: "error", role: "alert" }, explain(error)));
    }
  });
  const label = statuses.find(([id]) => id === status)[1];
  panel.append(...[
    bulkBar,
    invoices.length
      ? h("div", { class: "table-wrap" }, h("table", { id: "invoice-table" },
        h("caption", { class: "visually-hidden" }, `Invoices: ${label}`),
        h("thead", {}, h("tr", {}, all ? h("th", { class: "select", scope: "col" }, all) : null,
          ["Invoice", "Contractor", "Status", "Invoice date", "Due", "Transactions", "Total"].map((t, i) =>
            h("th", { scope: "col", class: i >= 5 ? "num" : null }, t)))),
        tbody))
      : h("p", { class: "muted", id: "invoice-empty" }, status
        ? `No invoices are ${label.toLowerCase()}.`
        : "No invoices yet. Create one from your pending billing transactions."),
    page.next_cursor ? h("p", { class: "toolbar" }, shownCount, more) : null,
    status_, results].filter(Boolean));

  apply.onclick = () => busy(apply, async () => {
    const body = { action: actionSelect.value, invoice_ids: [...selected], ...readParams(extra) };
    try {
      const outcome = await session.call("POST", "/contractor/invoices/bulk", body);
      const done = outcome.filter((r) => r.ok).length;
      status_.textContent = `${done} of ${outcome.length} invoices done.`;
      results.replaceChildren(table("Bulk action results", ["Invoice", "Outcome", "What to do"], outcome.map((r) => [
        r.invoice_id,
        r.ok ? h("span", { class: "ok" }, `Done: now ${invoiceStatusLabel(r.status)}`) : h("span", { class: "bad" }, `Not done (${r.code})`),
        r.ok ? "" : `${r.message.charAt(0).toUpperCase()}${r.message.slice(1)}.`,
      ]), { id: "bulk-result-table" }));
      // Rows done show their new status at once; the tab's list is re-read when the person moves on.
      for (const r of outcome.filter((x) => x.ok)) {
        const row = panel.querySelector(`tr[data-invoice-row="${CSS.escape(r.invoice_id)}"]`);
        if (!row) continue;
        row.classList.add("cw-done");
        row.dataset.status = r.status;
        row.querySelector(".inv-status").replaceChildren(statusChip(r.status));
      }
    } catch (error) {
      status_.textContent = "";
      results.replaceChildren(h("p", { class: "error", role: "alert" }, explain(error)));
    }
  });
  refresh();
}

/** Fields an action needs (pay period, payment method and reference), drawn into `holder`. */
async function bulkParams(session, action, holder) {
  holder.replaceChildren();
  if (action === "schedule") holder.append(await payPeriodField(session));
  if (action === "pay") holder.append(...(await paymentFields(session)));
}

function readParams(holder) {
  const params = {};
  for (const control of holder.querySelectorAll("[data-param]")) if (control.value) params[control.dataset.param] = control.value;
  return params;
}

async function payPeriodField(session) {
  let periods = [];
  let hint = "Payment goes out in the period chosen.";
  try {
    periods = await session.call("GET", "/contractor/pay-periods?count=6");
  } catch (error) {
    hint = explain(error);
  }
  const choose = select(periods.map((p) => [p.start, `${p.start} to ${p.end}`]), periods[0]?.start, { dataset: { param: "pay_period_start" } });
  return field("Pay period", choose, hint);
}

async function paymentFields(session) {
  let methods = [];
  let hint = "How it was paid.";
  try {
    methods = (await session.call("GET", "/contractor/lookups/contractor_payment_method")).values.filter((v) => v.active);
    if (!methods.length) hint = "No payment methods yet: a contractor admin adds them under Contractor setup → Lookups.";
  } catch (error) {
    hint = explain(error);
  }
  const method = select(methods.map((m) => [m.key, m.label]), methods[0]?.key, { dataset: { param: "payment_method" } });
  const reference = h("input", { dataset: { param: "payment_reference" }, maxlength: 100, autocomplete: "off" });
  return [field("Payment method", method, hint), field("Check or transaction id", reference)];
}

// ------------------------------------------------------------------ a new invoice

async function newInvoice(ctx, root, access) {
  const { session } = ctx;
  root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "New invoice"),
    h("a", { href: `#${PAGE}` }, "Back to invoices")));
  if (!access.can(PERM.invoices)) {
    root.append(h("p", { class: "error", role: "alert" }, "Creating invoices needs the Contractor Invoice Create/Edit permission. Ask a firm admin."));
    return;
  }
  const [byKey] = await Promise.all([contractorsByKey(session.call), loadExpenseLabels(session)]);
  const chosenKey = ctx.params.contractor || (access.self ? refKey(access.self) : "");
  const problem = problemBox();
  const whoField = access.isContractor
    ? h("p", {}, "For ", h("strong", {}, contractorName(byKey, access.self)))
    : field("Contractor", select([["", "Choose a contractor"], ...[...byKey.values()].filter((c) => c.active)
      .map((c) => [refKey(c), contractorName(byKey, c)])], chosenKey, {
      id: "invoice-contractor", onchange: (e) => ctx.navigate(PAGE, { new: 1, contractor: e.target.value }),
    }));
  const body = h("div", { id: "invoice-pool" });
  root.append(card("Whose invoice", whoField), card("Billing transactions to invoice", problem.node, body));
  if (!chosenKey) {
    body.append(h("p", { class: "muted" }, "Choose a contractor to see their pending billing transactions."));
    return;
  }
  if (!byKey.has(chosenKey)) {
    body.append(h("p", { class: "error", role: "alert" }, access.isContractor
      ? "You are not registered as a contractor yet. Ask the contractor staff to register you."
      : "That contractor is not registered. Choose another."));
    return;
  }
  const [kind, contractorId] = chosenKey.split("/");
  let pool;
  try {
    pool = await session.call("GET", `/contractor/contractors/${kind}/${encodeURIComponent(contractorId)}/billing-transactions`);
  } catch (error) {
    body.append(h("p", { class: "error", role: "alert" }, explain(error)));
    return;
  }
  if (!pool.length) {
    body.append(h("p", { class: "muted", id: "pool-empty" }, "No billing transactions wait to be invoiced. Log them on a work order first."));
    return;
  }
  const chosen = new Set(pool.filter((bt) => bt.status === "pending").map((bt) => bt.bt_id));
  const total = h("strong", { id: "selected-total" });
  const summary = h("p", { role: "status", "aria-live": "polite" });
  const refresh = () => {
    const picked = pool.filter((bt) => chosen.has(bt.bt_id));
    total.textContent = money(sumMoney(picked.map((bt) => bt.amount)));
    summary.replaceChildren(`${picked.length} of ${pool.length} chosen, total `, total);
    create.disabled = !picked.length;
  };
  const rows = pool.map((bt) => [
    h("input", { type: "checkbox", checked: chosen.has(bt.bt_id), dataset: { bt: bt.bt_id },
      "aria-label": `Invoice ${btLabel(bt)}`,
      onchange: (e) => { if (e.target.checked) chosen.add(bt.bt_id); else chosen.delete(bt.bt_id); refresh(); } }),
    h("span", { class: "nowrap" }, bt.work_date), BT_TYPE_LABELS[bt.bt_type] || bt.bt_type, bt.description || "—", pricing(bt),
    h("span", { class: "num" }, money(bt.amount)),
    h("span", {}, statusChip(bt.status), bt.review_note ? h("span", { class: "muted small" }, ` ${bt.review_note}`) : null),
  ]);
  const invoiceDate = h("input", { type: "date", id: "new-invoice-date" });
  const dueDate = h("input", { type: "date", id: "new-invoice-due" });
  const note = h("textarea", { id: "new-invoice-note", rows: 2, maxlength: 4000 });
  const create = h("button", { type: "button", id: "create-invoice" }, "Create draft invoice");
  body.append(...[
    table("Non-invoiced billing transactions", ["Include", "Date", "Type", "Description", "Units × rate", "Amount", "Status"], rows, { id: "pool-table", class: "cw-bts" }),
    pool.some((bt) => bt.status !== "pending")
      ? h("p", { class: "hint" }, "Disputed and denied transactions came back from an approved invoice; include them only if you have corrected them.")
      : null,
    summary,
    h("div", { class: "row" }, field("Invoice date", invoiceDate, "Optional."), field("Due date", dueDate)),
    field("Note for the reviewer", note),
    create].filter(Boolean));
  create.onclick = () => busy(create, async () => {
    problem.clear();
    try {
      const created = await session.call("POST", "/contractor/invoices", {
        contractor: { kind, contractor_id: contractorId },
        bt_ids: pool.filter((bt) => chosen.has(bt.bt_id)).map((bt) => bt.bt_id),
        invoice_date: invoiceDate.value || null, due_date: dueDate.value || null, note: note.value,
      });
      ctx.navigate(PAGE, { id: created.invoice_id, created: 1 });
    } catch (error) {
      problem.show(explain(error));
    }
  });
  refresh();
}

function btLabel(bt) {
  return `${BT_TYPE_LABELS[bt.bt_type] || bt.bt_type} of ${bt.work_date}, ${money(bt.amount)}${bt.description ? `: ${bt.description}` : ""}`;
}


// ------------------------------------------------------------------ one invoice

async function invoiceView(ctx, root, access, invoiceId) {
  const { session } = ctx;
  const path = `/contractor/invoices/${encodeURIComponent(invoiceId)}`;
  let invoice;
  try {
    [invoice] = await Promise.all([session.call("GET", path), loadExpenseLabels(session)]);
  } catch (error) {
    root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Invoice"), h("a", { href: `#${PAGE}` }, "Back to invoices")),
      h("p", { class: "error", role: "alert" }, explain(error)));
    return;
  }
  // After any change the page redraws from the API's answer: the invoice as it now is, with its new
  // version and the actions now available.
  const ops = {
    async act(action, params = {}, message = "") {
      const next = await session.call("POST", `${path}/actions`, { action, version: invoice.version, ...params });
      await ops.show(next, message);
    },
    async reload(message = "") {
      await ops.show(await session.call("GET", path), message);
    },
    async show(next, message = "") {
      invoice = next;
      root.replaceChildren();
      await drawInvoice(ctx, root, access, invoice, ops);
      root.querySelector("#invoice-status").textContent = message;
      root.querySelector("h1")?.focus({ preventScroll: true });
    },
    fail(error) {
      const box = root.querySelector("#invoice-problem");
      box.textContent = explain(error);
      box.hidden = false;
    },
  };
  await ops.show(invoice, ctx.params.created ? "Draft invoice created. Check it, then submit it for review." : "");
  if (ctx.params.created) ctx.setParams({ id: invoice.invoice_id });
}

async function drawInvoice(ctx, root, access, invoice, ops) {
  const { session } = ctx;
  const actions = new Set(invoice.available_actions);
  const status = statusLine({ id: "invoice-status" });
  const problem = problemBox();
  problem.node.id = "invoice-problem";
  root.dataset.invoiceStatus = invoice.status;
  const byId = new Map(invoice.billing_transactions.map((bt) => [bt.bt_id, bt]));
  const [categories, methods] = await Promise.all([
    lookupLabels(session.call, "contractor_product_service_category"),
    invoice.payment_method ? lookupLabels(session.call, "contractor_payment_method") : new Map(),
  ]);
  const category = (key) => categories.get(key) || humanize(key);

  root.append(h("div", { class: "page-head" },
    h("h1", { tabindex: "-1" }, `Invoice ${invoice.invoice_id}`), statusChip(invoice.status),
    h("a", { href: `#${PAGE}?status=${access.isContractor ? "" : invoice.status}` }, "Back to invoices")));
  root.append(problem.node, status);

  // Facts, then what the caller can do now.
  const facts = [
    ["Payee", invoice.payee_name], ["Status", invoiceStatusLabel(invoice.status)],
    ["Invoice date", invoice.invoice_date || "—"], ["Due", invoice.due_date || "—"],
    ["Transactions", String(invoice.bt_count)], ["Total", money(invoice.total)],
  ];
  if (invoice.pay_period) facts.push(["Pay period", `${invoice.pay_period.start} to ${invoice.pay_period.end}`]);
  if (invoice.payment_method) facts.push(["Paid by", `${methods.get(invoice.payment_method) || humanize(invoice.payment_method)}${invoice.payment_reference ? `, ${invoice.payment_reference}` : ""}`]);
  if (invoice.dispute_count) facts.push(["Disputes so far", String(invoice.dispute_count)]);
  // Staff may also act for the contractor (the API allows it); those buttons sit apart, so a reviewer's
  // own next step is never confused with the contractor's.
  const behalf = (action) => access.isStaff && CONTRACTOR_SIDE.has(action);
  const button = ([action, label]) => h("button", {
    type: "button", class: action === "delete" || action === "dispute" ? "danger" : behalf(action) ? "secondary" : null, dataset: { action },
    onclick: (e) => invoiceAction(ctx, invoice, action, e.currentTarget, ops) }, label);
  const offered = INVOICE_BUTTONS.filter(([action]) => actions.has(action));
  const own = offered.filter(([action]) => !behalf(action)).map(button);
  const forContractor = offered.filter(([action]) => behalf(action)).map(button);
  root.append(card("Summary",
    factList(facts, { id: "invoice-facts" }),
    own.length
      ? h("div", { class: "actions", role: "group", "aria-label": "Invoice actions", id: "invoice-actions" }, own)
      : h("p", { class: "muted" }, nothingToDo(invoice, access)),
    actionHint(invoice, actions, access),
    forContractor.length
      ? h("details", { class: "cw-behalf" }, h("summary", {}, "Act for the contractor"),
        h("div", { class: "actions", role: "group", "aria-label": "Actions for the contractor" }, forContractor))
      : null));

  // The transactions, with per-BT review for staff and revision for the contractor.
  const review = ["verify_bts", "dispute_bts", "deny_bts", "remove_bts"].filter((a) => actions.has(a));
  const chosen = new Set();
  const count = h("span", { class: "bulk-count" }, "0 selected");
  const reviewButtons = review.map((action) => h("button", {
    type: "button", class: action === "verify_bts" ? null : "secondary", dataset: { action }, disabled: true,
    onclick: (e) => btAction(ctx, invoice, action, [...chosen].map((id) => byId.get(id)), e.currentTarget, ops),
  }, { verify_bts: "Verify", dispute_bts: "Dispute…", deny_bts: "Deny…", remove_bts: "Remove from invoice" }[action]));
  const refresh = () => {
    count.textContent = `${chosen.size} selected`;
    for (const b of reviewButtons) b.disabled = !chosen.size;
  };
  const canRevise = actions.has("edit_details");
  const rows = invoice.billing_transactions.map((bt) => h("tr", { dataset: { bt: bt.bt_id, status: bt.status } },
    review.length ? h("td", { class: "select" }, h("input", { type: "checkbox", "aria-label": `Select ${btLabel(bt)}`,
      onchange: (e) => { if (e.target.checked) chosen.add(bt.bt_id); else chosen.delete(bt.bt_id); refresh(); } })) : null,
    h("td", { class: "when" }, bt.work_date),
    h("td", {}, BT_TYPE_LABELS[bt.bt_type] || bt.bt_type),
    h("td", {}, bt.description || "—", receiptLinks(session, bt)),
    h("td", {}, category(bt.category)),
    h("td", {}, pricing(bt)),
    h("td", { class: "num" }, money(bt.amount)),
    h("td", {}, statusChip(bt.status, BT_STATUS_LABELS[bt.status]),
      bt.review_note ? h("div", { class: "small cw-reason" }, `${["disputed", "denied"].includes(bt.status) ? "Reason" : "Review note"}: ${bt.review_note}`) : null),
    h("td", {}, canRevise && ["disputed", "invoiced", "denied"].includes(bt.status)
      ? h("button", { type: "button", class: bt.status === "disputed" ? null : "link",
        "aria-label": `Revise ${btLabel(bt)}`, onclick: () => reviseBt(ctx, invoice, bt, ops) }, "Revise…")
      : "")));
  root.append(card("Billing transactions",
    review.length ? h("div", { class: "cw-bulk", role: "group", "aria-label": "Selected transactions" }, count, reviewButtons) : null,
    h("div", { class: "table-wrap" }, h("table", { id: "invoice-bts", class: "cw-bts" },
      h("caption", { class: "visually-hidden" }, "Billing transactions on this invoice"),
      h("thead", {}, h("tr", {}, review.length ? h("th", { scope: "col", class: "select" }, h("span", { class: "visually-hidden" }, "Select")) : null,
        ["Date", "Type", "Description", "Category", "Units × rate", "Amount", "Status", ""].map((t) =>
          h("th", { scope: "col", class: t === "Amount" ? "num" : null }, t)))),
      h("tbody", {}, rows),
      h("tfoot", {}, h("tr", {}, h("th", { scope: "row", colspan: String(review.length ? 7 : 6) }, "Total"),
        h("td", { class: "num" }, h("strong", {}, money(invoice.total))), h("td", { colspan: "2" })))))));

  if (actions.has("add_bts")) root.append(await addFromPool(ctx, invoice, ops));
  if (actions.has("edit_details")) root.append(detailsForm(invoice, ops));

  // Totals by category, as a table and a chart.
  const canvas = h("canvas", { id: "invoice-category-chart", role: "img",
    "aria-label": `Invoice total by category: ${invoice.totals_by_category.map((c) => `${category(c.category)} ${money(c.amount)}`).join(", ")}` });
  root.append(h("div", { class: "grid-2" },
    card("Totals by category",
      table("!Totals by category", ["Category", "Transactions", "Amount"], invoice.totals_by_category.map((c) => [
        category(c.category), String(c.count), h("span", { class: "num" }, money(c.amount))]), { id: "invoice-categories" }),
      invoice.totals_by_category.length > 1 ? h("div", { class: "chart-box cw-chart" }, canvas) : null),
    notesCard(ctx, invoice, actions, ops, await actorNamer(ctx.session))));
  if (invoice.totals_by_category.length > 1) {
    loadChart().then((Chart) => {
      // The chart's bars are for the eye only (floats); every figure read is the exact table above.
      new Chart(canvas, {
        type: "bar",
        data: { labels: invoice.totals_by_category.map((c) => category(c.category)),
          datasets: [{ label: "Amount", data: invoice.totals_by_category.map((c) => Number(c.amount)), backgroundColor: "#0f5c8c" }] },
        options: { responsive: true, maintainAspectRatio: false, animation: false, indexAxis: "y", plugins: { legend: { display: false } } },
      });
    }).catch((error) => canvas.replaceWith(h("p", { class: "muted" }, error.message)));
  }
  refresh();
}

function nothingToDo(invoice, access) {
  if (invoice.status === "paid") return "Paid. Nothing more to do.";
  if (access.isContractor) return "Waiting for the contractor staff's review; you can still add notes.";
  return "Nothing for you to do on this invoice now.";
}

/** One line explaining the state and the next step, so the buttons are never a puzzle. */
function actionHint(invoice, actions, access) {
  const text = {
    draft: access.isContractor && actions.has("submit") ? "A draft: add or remove transactions, then submit it for review." : "A draft: the contractor has not submitted it yet.",
    submitted: actions.has("verify_bts")
      ? "Review each transaction: verify, dispute or deny. Verify the invoice when done, or dispute it if a transaction is disputed or denied."
      : "Submitted: the contractor staff review it.",
    disputed: access.isContractor && actions.has("resubmit")
      ? "Disputed: revise the disputed transactions (see their reasons), then resubmit."
      : "Disputed: waiting for the contractor to revise and resubmit.",
    verified: actions.has("approve") ? "Verified: approve it for payment. Disputed and denied transactions then return to the contractor's pool." : "",
    approved: actions.has("schedule") ? "Approved: schedule it on a pay period." : "",
    payment_scheduled: actions.has("pay") ? "Scheduled: record the payment when it is made." : "",
  }[invoice.status];
  return text ? h("p", { class: "hint" }, text) : null;
}

async function invoiceAction(ctx, invoice, action, button, ops) {
  const { session } = ctx;
  if (action === "approve") {
    const leaving = invoice.billing_transactions.filter((bt) => bt.status === "disputed" || bt.status === "denied");
    const staying = invoice.billing_transactions.filter((bt) => !leaving.includes(bt));
    const body = h("div", {},
      h("p", {}, `Approve ${money(sumMoney(staying.map((bt) => bt.amount)))} for payment (${staying.length} transactions).`),
      leaving.length
        ? [h("p", {}, `These ${leaving.length} transactions leave the invoice and return to the contractor's pool with their status:`),
          h("ul", { id: "approve-leaving" }, leaving.map((bt) => h("li", {}, `${btLabel(bt)} — ${BT_STATUS_LABELS[bt.status]}`)))]
        : h("p", { class: "muted" }, "Every transaction on it is verified."));
    return confirmAction("Approve for payment", body, "Approve", () => ops.act("approve", {}, "Approved for payment."));
  }
  if (action === "schedule") {
    const period = await payPeriodField(session);
    return confirmAction("Schedule payment", period, "Schedule", () => {
      const params = readParams(period);
      return ops.act("schedule", params, `Scheduled for the pay period starting ${params.pay_period_start}.`);
    });
  }
  if (action === "pay") {
    const fields = h("div", {}, ...(await paymentFields(session)));
    return confirmAction("Record payment", fields, "Record payment", () => ops.act("pay", readParams(fields), "Payment recorded: the invoice is paid."));
  }
  if (action === "delete") {
    return confirmAction("Delete invoice", h("p", {}, "The invoice is deleted and its transactions return to the pool."), "Delete", async () => {
      await session.call("DELETE", `/contractor/invoices/${encodeURIComponent(invoice.invoice_id)}?version=${invoice.version}`);
      ctx.navigate(PAGE, {});
    }, "danger");
  }
  const done = {
    submit: "Submitted for review.", resubmit: "Resubmitted for review.", return_to_draft: "Back to draft.",
    verify: "Invoice verified.", dispute: "Invoice disputed: the contractor is asked to revise it.", unapprove: "Approval withdrawn: verified again.",
  }[action];
  await busy(button, () => ops.act(action, {}, done)).catch(ops.fail);
}

/** A confirmation dialog; `run` may throw (the dialog then shows why and stays open). */
function confirmAction(title, body, label, run, kind) {
  const problem = problemBox();
  const ok = h("button", { type: "button", class: kind || null }, label);
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const box = dialog(title, h("div", {}, problem.node, body), [ok, cancel]);
  cancel.onclick = () => box.close();
  ok.onclick = () => busy(ok, async () => {
    try {
      await run();
      box.close();
      // The page was redrawn behind the dialog, so the button that opened it is gone: focus the heading.
      if (document.activeElement === document.body) document.querySelector("#view .page h1")?.focus({ preventScroll: true });
    } catch (error) {
      problem.show(explain(error));
    }
  });
  return box;
}

function btAction(ctx, invoice, action, bts, button, ops) {
  const ids = bts.map((bt) => bt.bt_id);
  const n = ids.length === 1 ? "1 transaction" : `${ids.length} transactions`;
  if (action === "dispute_bts" || action === "deny_bts") {
    const verb = action === "dispute_bts" ? "Dispute" : "Deny";
    const reason = h("textarea", { id: "bt-reason", rows: 3, maxlength: 4000, required: true });
    const body = h("div", {}, h("ul", {}, bts.map((bt) => h("li", {}, btLabel(bt)))),
      field("Reason", reason, action === "dispute_bts" ? "The contractor sees this and revises the transaction." : "The contractor sees this; denied transactions are not paid."));
    return confirmAction(`${verb} ${n}`, body, verb, () => {
      if (!reason.value.trim()) throw new Error("Write the reason the contractor will see, then try again.");
      return ops.act(action, { bt_ids: ids, reason: reason.value.trim() }, `${n} ${verb === "Deny" ? "denied" : "disputed"}.`);
    }, "danger");
  }
  const message = action === "verify_bts" ? `${n} verified.` : `${n} removed; they are back in the pool.`;
  return busy(button, () => ops.act(action, { bt_ids: ids }, message)).catch(ops.fail);
}

/** The contractor answers a dispute: the amount's inputs and the description, saved on the BT itself. */
function reviseBt(ctx, invoice, bt, ops) {
  const { session } = ctx;
  const inputs = [];
  const body = h("div", {}, bt.review_note ? h("p", { class: "cw-reason" }, `Reason given: ${bt.review_note}`) : null);
  const add = (label, name, control, hint) => { control.dataset.param = name; inputs.push(control); body.append(field(label, control, hint)); };
  if (bt.bt_type === "product_service" && !bt.formula_inputs) {
    add("Units", "units", h("input", { id: "revise-units", inputmode: "decimal", value: quantity(bt.units) }), `At ${money(bt.rate)} ${unitWord(bt) === "each" ? "each" : `per ${unitWord(bt)}`}; up to 4 decimals.`);
  } else if (bt.bt_type === "timeslip") {
    add("Minutes", "minutes", h("input", { id: "revise-minutes", type: "number", min: 1, max: 1440, value: bt.minutes }));
  } else if (bt.bt_type === "expense_reimbursement") {
    add("Amount", "amount", h("input", { id: "revise-amount", inputmode: "decimal", value: bt.amount }), "Dollars and cents, e.g. 42.50.");
  }
  add("Description", "description", h("textarea", { id: "revise-description", rows: 2, maxlength: 4000 }, bt.description));
  return confirmAction(`Revise ${btLabel(bt)}`, body, "Save revision", async () => {
    const changes = { version: bt.version };
    for (const control of inputs) {
      const value = control.value.trim();
      if (control.dataset.param === "minutes") changes.minutes = Number(value);
      else if (control.dataset.param === "description") changes.description = control.value;
      else changes[control.dataset.param] = value;
    }
    await session.call("PATCH", `/contractor/work-orders/${encodeURIComponent(bt.work_order_id)}/billing-transactions/${encodeURIComponent(bt.bt_id)}`, changes);
    await ops.reload(bt.status === "disputed"
      ? "Revision saved. Resubmit the invoice when every disputed transaction is answered."
      : "Revision saved.");
  });
}

function receiptLinks(session, bt) {
  if (!bt.receipts?.length) return null;
  return h("div", { class: "small" }, bt.receipts.map((r) => h("button", {
    type: "button", class: "link", "aria-label": `Download receipt ${r.file_name}`,
    onclick: async () => {
      const file = await session.call("GET", `/contractor/work-orders/${encodeURIComponent(bt.work_order_id)}/receipts/${encodeURIComponent(r.document_id)}`);
      downloadBase64(r.file_name, file.content_base64, r.content_type);
    },
  }, `Receipt: ${r.file_name}`)));
}

async function addFromPool(ctx, invoice, ops) {
  const { kind, contractor_id: id } = invoice.contractor;
  const pool = await ctx.session.call("GET", `/contractor/contractors/${kind}/${encodeURIComponent(id)}/billing-transactions`).catch(() => []);
  if (!pool.length) return card("Add transactions", h("p", { class: "muted" }, "No other non-invoiced transactions."));
  const chosen = new Set();
  const add = h("button", { type: "button", disabled: true }, "Add to invoice");
  const rows = pool.map((bt) => [
    h("input", { type: "checkbox", "aria-label": `Add ${btLabel(bt)}`, onchange: (e) => {
      if (e.target.checked) chosen.add(bt.bt_id); else chosen.delete(bt.bt_id);
      add.disabled = !chosen.size;
    } }),
    bt.work_date, BT_TYPE_LABELS[bt.bt_type], bt.description || "—", h("span", { class: "num" }, money(bt.amount)), statusChip(bt.status),
  ]);
  add.onclick = () => busy(add, () => ops.act("add_bts", { bt_ids: [...chosen] }, `${chosen.size} added.`)).catch(ops.fail);
  return card("Add transactions", table("!Transactions you can add", ["Add", "Date", "Type", "Description", "Amount", "Status"], rows), add);
}

function detailsForm(invoice, ops) {
  const invoiceDate = h("input", { type: "date", id: "edit-invoice-date", value: invoice.invoice_date || "" });
  const dueDate = h("input", { type: "date", id: "edit-due-date", value: invoice.due_date || "" });
  const save = h("button", { type: "button", class: "secondary" }, "Save dates");
  save.onclick = () => busy(save, () => ops.act("edit_details",
    { invoice_date: invoiceDate.value || null, due_date: dueDate.value || null }, "Dates saved.")).catch(ops.fail);
  return card("Invoice dates", h("div", { class: "toolbar" }, field("Invoice date", invoiceDate), field("Due date", dueDate), save));
}

function notesCard(ctx, invoice, actions, ops, who) {
  const list = invoice.notes.length
    ? h("ol", { class: "cw-notes", id: "invoice-notes" }, invoice.notes.map((n) => h("li", {},
      h("div", { class: "small muted" }, `${n.by_contractor ? "Contractor" : "Staff"} · ${who(n.author)} · ${dateTime(n.at)}`), n.text)))
    : h("p", { class: "muted" }, "No notes yet.");
  if (!actions.has("add_note")) return card("Notes", list);
  const text = h("textarea", { id: "invoice-note", rows: 2, maxlength: 4000 });
  const add = h("button", { type: "button", class: "secondary" }, "Add note");
  add.onclick = () => {
    if (!text.value.trim()) { text.focus(); return; }
    busy(add, () => ops.act("add_note", { note: text.value.trim() }, "Note added.")).catch(ops.fail);
  };
  return card("Notes", list, field("New note", text, "Everyone working this invoice sees it."), add);
}
