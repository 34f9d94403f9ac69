// What the contractor pages share: the caller's contractor permissions, money shown exactly as the API
// sends it (decimal strings, never floats), status labels, contractor names, tabs, and the chart library.
import { h } from "../util.js";

/** The ten contractor permissions of the seed, as the API names them. */
export const PERM = {
  verify: "contractor:invoice-verify",
  approve: "contractor:invoice-approve",
  schedule: "contractor:invoice-schedule",
  pay: "contractor:invoice-pay",
  invoices: "contractor:invoice-create-edit",
  workOrders: "contractor:work-order-create-edit",
  psrEdit: "contractor:work-order-service-request-edit",
  deleteBt: "contractor:delete-billing-transaction",
  deletePsr: "contractor:delete-product-or-service-request",
  admin: "contractor:admin",
};

// What a firm starts with (chalicelib/domain/contractors/permissions.py, DEFAULT_ROLE_PERMISSIONS): only a
// fallback for an API whose `/me` does not list `contractor_permissions` (see contractorAccess).
const ALL = Object.values(PERM);
const ROLE_DEFAULTS = {
  firm_admin: ALL,
  contractor_staff: ALL.filter((p) => p !== PERM.admin),
  contractor: [PERM.invoices, PERM.workOrders, PERM.deleteBt],
};

/**
 * The caller's place in the contractor module: `can(permission)`, `isContractor` (sees only their own
 * records), `isStaff` (reviews, approves and pays others' invoices) and `self` (their contractor ref).
 */
export function contractorAccess(session) {
  if (session._contractor) return session._contractor;
  const me = session.me || {};
  // `/me` says what the firm's permission mapping gives this person; only an API without it is guessed
  // from roles.
  const fromApi = Array.isArray(me.contractor_permissions);
  const granted = new Set(fromApi ? me.contractor_permissions
    : session.roles.flatMap((role) => ROLE_DEFAULTS[role] || []));
  const self = fromApi ? me.contractor || null
    : session.roles.includes("contractor") ? { kind: "user", contractor_id: me.user.user_id } : null;
  const isContractor = self !== null;
  session._contractor = {
    can: (permission) => granted.has(permission),
    any: granted.size > 0,
    isContractor,
    isStaff: !isContractor && granted.size > 0,
    self,
    fromApi,
  };
  return session._contractor;
}

/**
 * A decimal string as money for display, without ever going through a float:
 * "1234.5" → "$1,234.50", "-3" → "-$3.00", "12.3456" (a rate) → "$12.3456". null → "—".
 */
export function money(value, { symbol = "$" } = {}) {
  if (value === null || value === undefined || value === "") return "—";
  const text = String(value).trim();
  const negative = text.startsWith("-");
  const [whole, fraction = ""] = text.replace(/^[-+]/, "").split(".");
  const grouped = whole.replace(/^0+(?=\d)/, "").replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const cents = fraction.replace(/0+$/, "").padEnd(2, "0");
  return `${negative ? "-" : ""}${symbol}${grouped}.${cents}`;
}

/** A decimal string as a plain number (units, minutes): trailing zeros dropped, "2.5000" → "2.5". */
export function quantity(value) {
  if (value === null || value === undefined || value === "") return "—";
  const text = String(value);
  return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
}

/** Money strings summed exactly in cents (BigInt), for the totals of a selection: ["1.10","2.05"] → "3.15". */
export function sumMoney(values) {
  let cents = 0n;
  for (const value of values) {
    const [whole, fraction = ""] = String(value).replace("-", "").split(".");
    const amount = BigInt(whole || "0") * 100n + BigInt((fraction + "00").slice(0, 2));
    cents += String(value).startsWith("-") ? -amount : amount;
  }
  const sign = cents < 0n ? "-" : "";
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, "0")}`;
}

/** The unit a BT's rate is per, in words ("hour", "page"); "unit" when the API does not say. */
export function unitWord(bt) {
  return String(bt.unit || bt.unit_type || "unit").toLowerCase();
}

// The firm's expense reimbursement types, key → label, as last loaded by `loadExpenseLabels`.
let expenseLabels = new Map();

/** Load the expense type labels before drawing BTs or work orders (a failed read leaves the keys). */
export async function loadExpenseLabels(session) {
  try {
    const lookup = await session.call("GET", "/contractor/lookups/contractor_expense_reimbursement_type");
    expenseLabels = new Map(lookup.values.map((v) => [v.key, v.label]));
  } catch {
    // Shown as keys: still right, only less friendly.
  }
}

/** An expense type's label ("Mileage"), or its key when unknown. */
export function expenseLabel(key) {
  return expenseLabels.get(key) || key;
}

/** How a BT's amount came about: "3 × $150.00 each", "150 min at $150.00 per hour", "formula (2, 3)",
 * or the expense type. */
export function pricing(bt) {
  if (bt.bt_type === "expense_reimbursement") return bt.expense_type ? expenseLabel(bt.expense_type) : "Expense";
  if (bt.bt_type === "timeslip") {
    return bt.rate === null || bt.rate === undefined
      ? `${bt.minutes} min (not billed by time)` : `${bt.minutes} min at ${money(bt.rate)} per ${unitWord(bt)}`;
  }
  if (bt.formula_inputs) return `formula (${bt.formula_inputs.map(quantity).join(", ")})`;
  const unit = unitWord(bt);
  return `${quantity(bt.units)} × ${money(bt.rate)} ${unit === "each" ? "each" : `per ${unit}`}`;
}

export const INVOICE_STATUSES = [
  ["draft", "Draft"],
  ["submitted", "Submitted"],
  ["disputed", "Disputed"],
  ["verified", "Verified"],
  ["approved", "Approved"],
  ["payment_scheduled", "Payment scheduled"],
  ["paid", "Paid"],
];
export const BT_STATUS_LABELS = {
  pending: "Pending", invoiced: "Invoiced", verified: "Verified", disputed: "Disputed", denied: "Denied", paid: "Paid",
};
export const BT_TYPE_LABELS = {
  product_service: "Product/service", timeslip: "Timeslip", expense_reimbursement: "Expense",
};

const INVOICE_LABELS = Object.fromEntries(INVOICE_STATUSES);

export function invoiceStatusLabel(status) {
  return INVOICE_LABELS[status] || status;
}

/** Facts as a description list; each term and its value stay together in one grid cell. */
export function facts(pairs, attrs = {}) {
  return h("dl", { class: "cw-facts", ...attrs }, pairs.filter(Boolean).map(([term, value, cls]) =>
    h("div", {}, h("dt", {}, term), h("dd", { class: cls || null }, value))));
}

/** A lookup key as words when no label is known: "expense_reimbursement" → "Expense reimbursement". */
export function humanize(key) {
  const text = String(key || "").replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** A lookup's labels by key (empty when the caller may not read it). */
export async function lookupLabels(call, kind) {
  try {
    const lookup = await call("GET", `/contractor/lookups/${kind}`);
    return new Map(lookup.values.map((v) => [v.key, v.label]));
  } catch {
    return new Map();
  }
}

/** A status chip: colour AND words, so the status never rests on colour alone. */
export function statusChip(status, label) {
  return h("span", { class: `chip cw-status cw-${status}` }, label || INVOICE_LABELS[status] || BT_STATUS_LABELS[status] || status);
}

export const refKey = (ref) => `${ref.kind}/${ref.contractor_id}`;

/** The contractors the caller may see (a contractor: only themselves), loaded once per page. */
export async function contractorsByKey(call) {
  const list = await call("GET", "/contractor/contractors").catch(() => []);
  return new Map(list.map((c) => [refKey(c), c]));
}

export function contractorName(byKey, ref) {
  const found = byKey.get(refKey(ref));
  if (!found) return ref.contractor_id;
  return found.doing_business_as ? `${found.name} (${found.doing_business_as})` : found.name;
}

/** Tabs following the ARIA pattern: arrows move between them; each switches by changing the hash. */
export function tabs(label, items, current, go) {
  const bar = h("div", { class: "tabs", role: "tablist", "aria-label": label },
    items.map(([id, text]) => h("button", {
      type: "button", role: "tab", id: `tab-${id || "all"}`, "aria-selected": String(id === current),
      "aria-controls": "cw-panel", tabindex: id === current ? "0" : "-1", onclick: () => go(id),
    }, text)));
  bar.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowRight" && event.key !== "ArrowLeft") return;
    const index = items.findIndex(([id]) => id === current);
    const next = items[(index + (event.key === "ArrowRight" ? 1 : items.length - 1)) % items.length][0];
    go(next);
  });
  return bar;
}

/** The page's tab panel, labelled by the selected tab. */
export function tabPanel(current) {
  return h("div", { role: "tabpanel", id: "cw-panel", "aria-labelledby": `tab-${current || "all"}`, tabindex: "0" });
}

let chartLibrary = null;

/** Chart.js, loaded the first time a page needs it (the same vendored build the Charts page uses). */
export function loadChart() {
  if (window.Chart) return Promise.resolve(window.Chart);
  chartLibrary ||= new Promise((resolve, reject) => {
    const script = h("script", { src: "../vendor/chart.umd.min.js" });
    script.onload = () => resolve(window.Chart);
    script.onerror = () => reject(new Error("The charting library is missing: run `make run` (it installs it with npm ci)."));
    document.head.append(script);
  });
  return chartLibrary;
}

/** A file's bytes as base64 (for receipt uploads, which travel as JSON). */
export function fileToBase64(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(new Error(`“${file.name}” could not be read; choose it again.`));
    reader.readAsDataURL(file);
  });
}

/** Save base64 content as a downloaded file. */
export function downloadBase64(name, base64, type) {
  const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** An inline problem box for a form: `show(error-text)`, `clear()`. */
export function problemBox() {
  const node = h("div", { class: "error", role: "alert", hidden: true });
  return {
    node,
    show(text) { node.textContent = text; node.hidden = false; },
    clear() { node.hidden = true; node.textContent = ""; },
  };
}
