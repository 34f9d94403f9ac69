// Contractor setup, for the agency's staff and contractor admins: a case's recommended contractors, budget,
// allocation and log; the catalog of products/services and each contractor's fee structures (with bulk
// copy); annual allocations; the module's settings and lookups. Sections that change configuration show
// only to holders of the Contractor Admin permission, so nothing offered can answer 403.
import { actorNamer } from "../people.js";
import { matterLabel, matterById, matterPicker } from "../matters.js";
import { busy, card, dateTime, dialog, explain, field, h, select, statusLine, table } from "../util.js";
import {
  PERM, contractorAccess, facts, humanize, lookupLabels, contractorName, contractorsByKey, money, problemBox, refKey, tabPanel, tabs,
} from "./contractor-common.js";

const PAGE = "contractor-setup";
const ASSIGNMENT_TYPES = [
  ["contract_attorney", "Contract attorney"], ["expert", "Expert"], ["interpreter", "Interpreter"],
  ["investigator", "Investigator"], ["translator", "Translator"],
];
const LOOKUPS = [
  ["contractor_expense_reimbursement_type", "Expense reimbursement types"],
  ["contractor_fee_unit_type", "Fee unit types"],
  ["contractor_payment_method", "Payment methods"],
  ["contractor_product_service_category", "Product/service categories"],
  ["contractor_product_service_type", "Product or service types"],
  ["contractor_investigation_type", "Investigation types"],
  ["contractor_subject_matter_expertise", "Subject matter expertise"],
  ["contractor_invoice_status", "Invoice statuses (system)"],
  ["contractor_billing_transaction_status", "Billing transaction statuses (system)"],
  ["contractor_billing_transaction_type", "Billing transaction types (system)"],
];

export async function render(ctx, root) {
  const access = contractorAccess(ctx.session);
  root.classList.add("cw");
  const admin = access.can(PERM.admin);
  const items = [["cases", "Cases"], ["contractors", "Contractors"], ["catalog", "Catalog & fees"], ["allocations", "Allocations"],
    ...(admin ? [["settings", "Settings"], ["lookups", "Lookups"]] : [])];
  const tab = items.some(([id]) => id === ctx.params.tab) ? ctx.params.tab : "cases";
  const panel = tabPanel(tab);
  root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Contractor setup")),
    tabs("Contractor setup sections", items, tab, (next) => ctx.navigate(PAGE, { tab: next })), panel);
  const draw = { cases: casesTab, contractors: contractorsTab, catalog: catalogTab, allocations: allocationsTab, settings: settingsTab, lookups: lookupsTab }[tab];
  try {
    await draw(ctx, panel, access);
  } catch (error) {
    panel.append(h("p", { class: "error", role: "alert" }, explain(error)));
  }
}

// ------------------------------------------------------------------ cases

async function casesTab(ctx, panel, access) {
  const { session } = ctx;
  const matterId = ctx.params.matter || "";
  const picker = matterPicker(session.call, { label: "Case", onPick: (m) => ctx.navigate(PAGE, { tab: "cases", matter: m.matter_id }) });
  panel.append(card("Choose a case", picker.node));
  if (!matterId) {
    panel.append(h("p", { class: "muted" }, "Choose a case to see its recommended contractors, budget and allocation log."));
    return;
  }
  const [matter, view, byKey, who] = await Promise.all([
    matterById(session.call, matterId), session.call("GET", `/contractor/cases/${encodeURIComponent(matterId)}`), contractorsByKey(session.call),
    actorNamer(session),
  ]);
  picker.input.value = matter?.number || "";
  const budget = view.budget;
  panel.append(card(`Budget: ${matterLabel(matter) || matterId}`,
    facts([
      ["Allocated", budget.allocated === null ? "No allocation" : money(budget.allocated)],
      ["Invoiced", money(budget.invoiced)],
      ["Approved (deducted)", money(budget.approved)],
      ["Remaining", budget.remaining === null ? "—" : money(budget.remaining), budget.over_budget ? "bad" : null],
      ["Set by", view.manually_adjusted ? "hand (problem codes no longer move it)" : "problem code"]], { id: "case-budget" }),
    budget.over_budget ? h("p", { class: "error", role: "alert" }, "This case is over its allocation: approvals go beyond its budget.") : null,
    access.can(PERM.admin) ? allocationForm(ctx, matterId, view) : null));

  panel.append(card("Contractors on this case", view.assignments.length
    ? table("!Contractors on this case", ["Contractor", "As", "Since", "By"], view.assignments.map((a) => [
      contractorName(byKey, a.contractor), a.assignment_type.replace(/_/g, " "), dateTime(a.assigned_at), who(a.assigned_by)]))
    : h("p", { class: "muted" }, "Nobody is assigned yet.")));
  panel.append(await recommendedCard(ctx, matterId));
  panel.append(card("Allocation log", view.log.length
    ? table("!Allocation log", ["When", "Who", "Why", "Allocated", "Deducted", "Invoice", "Note"], view.log.map((e) => [
      dateTime(e.at), who(e.actor), e.reason.replace(/_/g, " "), `${money(e.allocated_before)} → ${money(e.allocated_after)}`,
      `${money(e.deducted_before)} → ${money(e.deducted_after)}`, e.invoice_id || "—", e.note || ""]), { id: "allocation-log" })
    : h("p", { class: "muted" }, "No changes yet.")));
}

function allocationForm(ctx, matterId, view) {
  const problem = problemBox();
  const amount = h("input", { id: "case-allocation", inputmode: "decimal", value: view.budget.allocated ?? "" });
  const note = h("input", { id: "case-allocation-note", maxlength: 1000 });
  const save = h("button", { type: "button", class: "secondary" }, "Override allocation");
  save.onclick = () => busy(save, async () => {
    problem.clear();
    if (!note.value.trim()) return problem.show("Say why the allocation changes: the note goes into the log.");
    try {
      await ctx.session.call("PUT", `/contractor/cases/${encodeURIComponent(matterId)}/allocation`,
        { version: view.allocation_version, allocated: amount.value.trim(), note: note.value.trim() });
      ctx.navigate(PAGE, { tab: "cases", matter: matterId, saved: Date.now() });
    } catch (error) {
      problem.show(explain(error));
    }
  });
  return h("div", {}, problem.node, h("div", { class: "toolbar" }, field("Allocation", amount, "Dollars and cents."),
    field("Why", note, "Goes into the allocation log."), save, followProblemCode(ctx, matterId, view, note, problem)));
}

// Undo a manual override: only a hand-set allocation of a case with a problem code can go back to it. While
// approvals stand deducted the server refuses (an approval fixes the allocation), so say so instead of
// offering a button that can only answer 409.
function followProblemCode(ctx, matterId, view, note, problem) {
  if (!view.manually_adjusted || !view.problem_code) return null;
  if (Number(view.budget.approved) !== 0) {
    return h("p", { class: "hint", id: "case-allocation-follow-hint" },
      "Approvals have been deducted, so the problem code no longer sets this allocation.");
  }
  const back = h("button", { type: "button", class: "secondary", id: "case-allocation-follow" }, "Use the problem code's allocation");
  back.onclick = () => busy(back, async () => {
    problem.clear();
    if (!note.value.trim()) return problem.show("Say why the allocation goes back to the problem code: the note goes into the log.");
    try {
      await ctx.session.call("POST", `/contractor/cases/${encodeURIComponent(matterId)}/allocation/follow-problem-code`,
        { version: view.allocation_version, note: note.value.trim() });
      ctx.navigate(PAGE, { tab: "cases", matter: matterId, saved: Date.now() });
    } catch (error) {
      problem.show(explain(error));
    }
  });
  return back;
}

// The recommended list's filters, as the API names them (query parameters and `filters.values` keys).
const FILTER_ATTRIBUTES = [
  ["subjects", "Subject"], ["languages_spoken", "Speaks"], ["languages_written", "Writes"],
  ["subject_matter_expertise", "Expertise"], ["investigation_types", "Investigates"],
];
const FILTER_PARAMS = ["types", "name", "assigned", "over", ...FILTER_ATTRIBUTES.map(([key]) => key)];
const FILTER_SOURCES = {
  case: ["from the case", "Filtered by the case's problem code and the languages its client speaks."],
  custom: ["set by your admin", "Filtered by the default filters your admin set for this list."],
  request: ["your filter", "Filtered as you asked."],
  none: ["", "No filters: everyone active and within their allocation."],
};
// A list with no filters that nobody asked for: the case has nothing to inherit and no admin set defaults.
const NOTHING_TO_INHERIT = "No filters: the case has no problem code or client languages to inherit, and no default filters are set.";

/** The filter state a URL names, or null when it names none (the list's default filters then apply). */
function filtersFromParams(params) {
  if (!FILTER_PARAMS.some((key) => params[key])) return null;
  const list = (text) => (text || "").split(",").map((v) => v.trim()).filter(Boolean);
  return {
    assignment_types: list(params.types), name: params.name || "",
    include_already_assigned: params.assigned === "1", include_over_allocation: params.over === "1",
    values: Object.fromEntries(FILTER_ATTRIBUTES.map(([key]) => [key, list(params[key])]).filter(([, v]) => v.length)),
  };
}

/** URL parameters for a filter state: explicit filters, or `defaults=none` when nothing is left. */
function filterParams(filters) {
  const params = {
    types: filters.assignment_types.join(","), name: filters.name,
    assigned: filters.include_already_assigned ? "1" : "", over: filters.include_over_allocation ? "1" : "",
    ...Object.fromEntries(FILTER_ATTRIBUTES.map(([key]) => [key, (filters.values[key] || []).join(",")])),
  };
  return Object.values(params).some(Boolean) ? params : { defaults: "none" };
}

/** The recommended-list query for a URL: its explicit filters, `defaults=none`, or nothing (defaults). */
function recommendedQuery(params) {
  const filters = filtersFromParams(params);
  if (!filters) return params.defaults === "none" ? { defaults: "none" } : {};
  const query = { ...(filters.assignment_types.length ? { assignment_types: filters.assignment_types.join(",") } : {}),
    ...(filters.name ? { name: filters.name } : {}),
    ...(filters.include_already_assigned ? { include_already_assigned: "true" } : {}),
    ...(filters.include_over_allocation ? { include_over_allocation: "true" } : {}) };
  for (const [key, values] of Object.entries(filters.values)) query[key] = values.join(",");
  return query;
}

async function recommendedCard(ctx, matterId) {
  const { session } = ctx;
  const found = await session.call("GET", `/contractor/cases/${encodeURIComponent(matterId)}/recommended?${new URLSearchParams(recommendedQuery(ctx.params))}`);
  const applied = found.filters;
  const show = (filters) => ctx.navigate(PAGE, { tab: "cases", matter: matterId, ...filterParams(filters) });
  const without = (change) => {
    const next = structuredClone(applied);
    change(next);
    return next;
  };
  const typeLabel = (key) => (ASSIGNMENT_TYPES.find(([k]) => k === key) || [key, humanize(key)])[1];
  const asked = Boolean(filtersFromParams(ctx.params)) || ctx.params.defaults === "none";
  const [origin, described] = FILTER_SOURCES[found.source] || FILTER_SOURCES.request;
  const summary = found.source === "none" && !asked ? NOTHING_TO_INHERIT : described;
  const chip = (label, drop) => h("li", { class: `chip cw-filter cw-filter-${found.source}` }, label,
    origin ? h("span", { class: "hint" }, ` (${origin})`) : null, " ",
    h("button", { type: "button", class: "link", "aria-label": `Remove filter ${label}`, onclick: () => show(without(drop)) }, "×"));
  const chips = [
    ...applied.assignment_types.map((key) => chip(`Kind of work: ${typeLabel(key)}`, (f) => { f.assignment_types = f.assignment_types.filter((k) => k !== key); })),
    ...FILTER_ATTRIBUTES.flatMap(([key, label]) => (applied.values[key] || []).map((value) => chip(`${label}: ${value}`,
      (f) => { f.values[key] = f.values[key].filter((v) => v !== value); }))),
    ...(applied.name ? [chip(`Name: ${applied.name}`, (f) => { f.name = ""; })] : []),
    ...(applied.include_already_assigned ? [chip("Including those already assigned", (f) => { f.include_already_assigned = false; })] : []),
    ...(applied.include_over_allocation ? [chip("Including those over their allocation", (f) => { f.include_over_allocation = false; })] : []),
  ];
  const everyone = h("button", { type: "button", class: "secondary", id: "rec-everyone", onclick: () => show({ assignment_types: [], values: {}, name: "",
    include_already_assigned: false, include_over_allocation: false }) }, "Show everyone");
  const defaults = h("button", { type: "button", class: "link", id: "rec-defaults", onclick: () => ctx.navigate(PAGE, { tab: "cases", matter: matterId }) },
    "Back to the default filters");
  const filtersBox = h("div", { id: "rec-filters", dataset: { source: found.source } },
    h("p", { class: "muted", id: "rec-source" }, summary),
    chips.length ? h("ul", { class: "chips", "aria-label": "Filters applied" }, chips) : null,
    h("div", { class: "toolbar" }, chips.length ? everyone : null, asked ? defaults : null));

  // Narrowing adds to what is applied; a language is what interpreters speak and translators write.
  const type = select([["", "Any kind of work"], ...ASSIGNMENT_TYPES], "", { id: "rec-type" });
  const language = h("input", { id: "rec-language", maxlength: 64 });
  const subject = h("input", { id: "rec-subject", maxlength: 64 });
  const name = h("input", { id: "rec-name", type: "search", value: applied.name, maxlength: 100 });
  const assigned = h("input", { type: "checkbox", id: "rec-assigned", checked: applied.include_already_assigned });
  const add = (list, value) => (value && !list.includes(value) ? [...list, value] : list);
  const go = () => show(without((f) => {
    f.assignment_types = add(f.assignment_types, type.value);
    for (const key of ["languages_spoken", "languages_written"]) f.values[key] = add(f.values[key] || [], language.value.trim());
    f.values.subjects = add(f.values.subjects || [], subject.value.trim());
    f.name = name.value.trim();
    f.include_already_assigned = assigned.checked;
  }));
  const filter = h("button", { type: "button", class: "secondary", id: "rec-filter", onclick: go }, "Filter");
  for (const input of [language, subject, name]) input.onkeydown = (e) => { if (e.key === "Enter") go(); };

  const status = statusLine();
  const rows = found.contractors.map((r) => [
    r.contractor.doing_business_as ? `${r.contractor.name} (${r.contractor.doing_business_as})` : r.contractor.name,
    r.matched_types.map((t) => t.replace(/_/g, " ")).join(", ") || "—",
    String(r.open_work_orders), r.already_assigned ? "Yes" : "No",
    r.already_assigned ? "" : h("button", { type: "button", class: "link", "aria-label": `Assign ${r.contractor.name}`, onclick: (e) => busy(e.currentTarget, async () => {
      try {
        await session.call("POST", `/contractor/cases/${encodeURIComponent(matterId)}/assignments`,
          { contractor: { kind: r.contractor.kind, contractor_id: r.contractor.contractor_id }, assignment_type: r.matched_types[0] || r.contractor.assignments[0]?.assignment_type || "contract_attorney" });
        status.textContent = `${r.contractor.name} is assigned to the case.`;
      } catch (error) {
        status.textContent = explain(error);
      }
    }) }, "Assign"),
  ]);
  return card("Recommended contractors (least busy first)", filtersBox,
    h("div", { class: "toolbar" }, field("Kind of work", type), field("Language", language, "Spoken or written."), field("Subject", subject, "A legal problem code."),
      field("Name", name), h("label", { class: "check" }, assigned, " Include those already assigned"), filter),
    rows.length ? table("!Recommended contractors", ["Contractor", "Matches", "Open work orders", "Assigned", ""], rows, { id: "recommended-table" })
      : h("p", { class: "muted", id: "recommended-none" }, chips.length ? "No contractor matches these filters. Remove one, or show everyone."
        : "No contractor to offer. Register contractors with this kind of work."),
    h("p", { class: "hint" }, "Contractors over their annual allocation are not offered."), status);
}

// ------------------------------------------------------------------ contractors

async function contractorsTab(ctx, panel, access) {
  const { session } = ctx;
  const admin = access.can(PERM.admin);
  const byKey = await contractorsByKey(session.call);
  const contractors = [...byKey.values()];
  const status = statusLine({ id: "contractors-status" });
  const kinds = (c) => c.assignments.map((a) => `${a.assignment_type.replace(/_/g, " ")}${a.values.length ? ` (${a.values.join(", ")})` : ""}`).join("; ");
  panel.append(card("Contractors", contractors.length
    ? table("!Contractors", ["Name", "Doing business as", "Kind", "Work", "Email", "Active", ""], contractors.map((c) => [
      c.name, c.doing_business_as || "—", c.kind === "organization" ? "Organization" : "Person", kinds(c) || "—", c.email || "—",
      c.active ? "Yes" : "No",
      admin ? h("button", { type: "button", class: "link", "aria-label": `Edit ${c.name}`, onclick: () => editContractor(ctx, c) }, "Edit") : "",
    ]), { id: "contractors-table" })
    : h("p", { class: "muted" }, "No contractors registered yet."), status));
  if (admin) panel.append(await registerForm(ctx, byKey));
}

function assignmentFields(prefix, current = []) {
  const chosen = new Map(current.map((a) => [a.assignment_type, a.values]));
  return h("fieldset", {}, h("legend", {}, "Kinds of work"), ASSIGNMENT_TYPES.map(([key, label]) => h("div", { class: "row cw-assignment" },
    h("label", { class: "check" }, h("input", { type: "checkbox", name: `${prefix}-type`, value: key, checked: chosen.has(key) }), ` ${label}`),
    h("input", { name: `${prefix}-values`, dataset: { type: key }, value: (chosen.get(key) || []).join(", "), "aria-label": `${label}: subjects, languages or expertise`,
      placeholder: "subjects, languages, expertise (comma-separated)" }))));
}

function readAssignments(node, prefix) {
  return [...node.querySelectorAll(`input[name=${prefix}-type]:checked`)].map((box) => ({
    assignment_type: box.value,
    values: node.querySelector(`input[name=${prefix}-values][data-type=${box.value}]`).value.split(",").map((v) => v.trim()).filter(Boolean),
  }));
}

async function registerForm(ctx, byKey) {
  const { session } = ctx;
  const people = await session.call("GET", "/users?limit=200").then((p) => p.items.filter((u) => u.roles.includes("contractor"))).catch(() => []);
  const unregistered = people.filter((u) => !byKey.has(`user/${u.user_id}`));
  const problem = problemBox();
  const kind = select([["user", "A person who signs in (contractor role)"], ["organization", "An organization"]], "user", { id: "reg-kind" });
  const user = select([["", "Choose a person"], ...unregistered.map((u) => [u.user_id, `${u.display_name} (${u.email})`])], "", { id: "reg-user" });
  const userField = field("Person", user, unregistered.length ? "People with the contractor role who are not registered yet." : "Everyone with the contractor role is registered; give the role under People first.");
  const name = h("input", { id: "reg-name", maxlength: 200 });
  const email = h("input", { id: "reg-email", type: "email", maxlength: 254 });
  const dba = h("input", { id: "reg-dba", maxlength: 200 });
  const work = assignmentFields("reg");
  kind.onchange = () => { userField.hidden = kind.value !== "user"; };
  user.onchange = () => {
    const person = unregistered.find((u) => u.user_id === user.value);
    if (person) { name.value = person.display_name; email.value = person.email; }
  };
  const save = h("button", { type: "button" }, "Register contractor");
  save.onclick = () => busy(save, async () => {
    problem.clear();
    if (kind.value === "user" && !user.value) return problem.show("Choose the person to register.");
    try {
      await session.call("POST", "/contractor/contractors", { kind: kind.value, user_id: kind.value === "user" ? user.value : null,
        name: name.value.trim(), email: email.value.trim() || null, doing_business_as: dba.value.trim(), assignments: readAssignments(work, "reg") });
      ctx.navigate(PAGE, { tab: "contractors", saved: Date.now() });
    } catch (error) {
      problem.show(explain(error));
    }
  });
  return card("Register a contractor", problem.node, h("div", { class: "row" }, field("Kind", kind), userField),
    h("div", { class: "row" }, field("Name", name), field("Email", email), field("Doing business as", dba, "Shown on invoices when the settings say so.")), work, save);
}

function editContractor(ctx, contractor) {
  const problem = problemBox();
  const dba = h("input", { id: "edit-dba", value: contractor.doing_business_as, maxlength: 200 });
  const email = h("input", { id: "edit-email", type: "email", value: contractor.email || "", maxlength: 254 });
  const active = h("input", { type: "checkbox", id: "edit-active", checked: contractor.active });
  const work = assignmentFields("edit", contractor.assignments);
  const save = h("button", { type: "button" }, "Save");
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const box = dialog(`Edit ${contractor.name}`, h("div", {}, problem.node, field("Doing business as", dba), field("Email", email),
    h("label", { class: "check" }, active, " Active (offered for new work)"), work), [save, cancel]);
  cancel.onclick = () => box.close();
  save.onclick = () => busy(save, async () => {
    try {
      await ctx.session.call("PATCH", `/contractor/contractors/${contractor.kind}/${encodeURIComponent(contractor.contractor_id)}`, {
        version: contractor.version, doing_business_as: dba.value.trim(), email: email.value.trim() || null, active: active.checked,
        assignments: readAssignments(work, "edit") });
      box.close();
      ctx.navigate(PAGE, { tab: "contractors", saved: Date.now() });
    } catch (error) {
      problem.show(explain(error));
    }
  });
}

// ------------------------------------------------------------------ catalog and fee structures

async function catalogTab(ctx, panel, access) {
  const { session } = ctx;
  const admin = access.can(PERM.admin);
  const [products, byKey, categories] = await Promise.all([session.call("GET", "/contractor/products"), contractorsByKey(session.call),
    lookupLabels(session.call, "contractor_product_service_category")]);
  panel.append(card("Products and services", products.length
    ? table("!Products and services", ["Name", "Default rate", "Unit", "Category", "Time-based", "Overrides fee structures", "Active"], products.map((p) => [
      p.name, p.formula ? `formula: ${p.formula}` : money(p.default_rate), p.unit_type || "—", p.category ? categories.get(p.category) || humanize(p.category) : "—",
      p.time_based ? "Yes" : "No", p.override_fee_structures ? "Yes" : "No", p.active ? "Yes" : "No"]), { id: "product-table" })
    : h("p", { class: "muted" }, "The catalog is empty."),
  admin ? await productForm(ctx) : null));

  panel.append(await templatesCard(ctx, products, admin));

  const chosen = ctx.params.contractor || "";
  const who = select([["", "Choose a contractor"], ...[...byKey.values()].map((c) => [refKey(c), contractorName(byKey, c)])], chosen,
    { id: "fee-contractor", class: "cw-narrow", onchange: (e) => ctx.navigate(PAGE, { tab: "catalog", contractor: e.target.value }) });
  const feeCard = card("Fee structures", field("Contractor", who, "A contractor's own rate replaces the default rate when a PSR is added."));
  panel.append(feeCard);
  if (!chosen || !byKey.has(chosen)) return;
  const contractor = byKey.get(chosen);
  const base = `/contractor/contractors/${contractor.kind}/${encodeURIComponent(contractor.contractor_id)}`;
  const fees = await session.call("GET", `${base}/fee-structures`);
  const byProduct = new Map(products.map((p) => [p.product_id, p]));
  const problem = problemBox();
  const status = statusLine({ id: "fee-status" });
  feeCard.append(...[problem.node, fees.length
    ? table("!Fee structures", ["Product or service", "Default rate", "Their rate"], fees.map((f) => [
      byProduct.get(f.product_id)?.name || f.product_id, money(byProduct.get(f.product_id)?.default_rate), money(f.rate)]), { id: "fee-table" })
    : h("p", { class: "muted" }, "No own rates: the default rates apply."), status].filter(Boolean));
  if (!admin) return;
  const product = select(products.filter((p) => !p.formula).map((p) => [p.product_id, p.name]), "", { id: "fee-product" });
  const rate = h("input", { id: "fee-rate", inputmode: "decimal", placeholder: "125.00" });
  const set = h("button", { type: "button", class: "secondary" }, "Set rate");
  set.onclick = () => busy(set, async () => {
    problem.clear();
    const current = fees.find((f) => f.product_id === product.value);
    try {
      await session.call("PUT", `${base}/fee-structures/${encodeURIComponent(product.value)}`, { version: current ? current.version : 0, rate: rate.value.trim() });
      ctx.navigate(PAGE, { tab: "catalog", contractor: chosen, saved: Date.now() });
    } catch (error) {
      problem.show(explain(error));
    }
  });
  const others = [...byKey.values()].filter((c) => refKey(c) !== chosen);
  const overwrite = h("input", { type: "checkbox", id: "fee-overwrite" });
  const copy = h("button", { type: "button", class: "secondary", disabled: !fees.length }, "Copy to the chosen contractors");
  copy.onclick = () => busy(copy, async () => {
    problem.clear();
    const targets = [...feeCard.querySelectorAll("input[name=fee-target]:checked")].map((b) => {
      const [kind, id] = b.value.split("/");
      return { kind, contractor_id: id };
    });
    if (!targets.length) return problem.show("Tick the contractors to copy these rates to.");
    try {
      const done = await session.call("POST", `${base}/fee-structures/copy`, { targets, overwrite_existing: overwrite.checked });
      status.textContent = `Copied: ${done.created} new, ${done.updated} updated, ${done.kept_existing} kept their own rate.`;
    } catch (error) {
      problem.show(explain(error));
    }
  });
  feeCard.append(...[h("div", { class: "toolbar" }, field("Product or service", product), field("Rate", rate), set),
    others.length ? h("fieldset", {}, h("legend", {}, "Bulk copy these rates to"),
      h("div", { class: "cw-checks" }, others.map((c) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "fee-target", value: refKey(c) }), ` ${contractorName(byKey, c)}`))),
      h("label", { class: "check" }, overwrite, " Overwrite their own rates"), h("div", {}, copy)) : null].filter(Boolean));
}

async function templatesCard(ctx, products, admin) {
  const { session } = ctx;
  const templates = await session.call("GET", "/contractor/templates");
  const names = new Map(products.map((p) => [p.product_id, p.name]));
  const list = templates.length
    ? table("!Work order templates", ["Template", "PSRs", "Expense types", "Starts", "Lasts"], templates.map((t) => [
      t.name, t.product_ids.map((id) => names.get(id) || id).join(", ") || "—", t.expense_types.join(", ") || "—",
      t.start_offset_days ? `${t.start_offset_days} days after creation` : "on creation", t.duration_days === null ? "open-ended" : `${t.duration_days} days`]),
    { id: "template-table" })
    : h("p", { class: "muted" }, "No templates yet.");
  if (!admin) return card("Work order templates", list);
  const problem = problemBox();
  const name = h("input", { id: "tpl-name", maxlength: 200 });
  const offset = h("input", { id: "tpl-offset", type: "number", min: 0, max: 366, value: 0 });
  const duration = h("input", { id: "tpl-duration", type: "number", min: 0, max: 3660 });
  const expenses = h("input", { id: "tpl-expenses", placeholder: "mileage, parking" });
  const boxes = products.filter((p) => p.active).map((p) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "tpl-product", value: p.product_id }), ` ${p.name}`));
  const form = h("div", {}, problem.node, h("div", { class: "row" }, field("Name", name), field("Starts after (days)", offset), field("Lasts (days)", duration, "Empty: open-ended."),
    field("Expense types", expenses, "Lookup keys, comma-separated.")),
  h("fieldset", {}, h("legend", {}, "PSRs the template brings"), h("div", { class: "cw-checks" }, boxes)));
  const add = h("button", { type: "button", class: "secondary" }, "Add template");
  add.onclick = () => busy(add, async () => {
    problem.clear();
    try {
      await session.call("POST", "/contractor/templates", { name: name.value.trim(),
        items: [...form.querySelectorAll("input[name=tpl-product]:checked")].map((b) => ({ product_id: b.value })),
        expense_types: expenses.value.split(",").map((v) => v.trim()).filter(Boolean),
        start_offset_days: Number(offset.value || 0), duration_days: duration.value === "" ? null : Number(duration.value) });
      ctx.navigate(PAGE, { tab: "catalog", saved: Date.now() });
    } catch (error) {
      problem.show(explain(error));
    }
  });
  return card("Work order templates", list, h("h3", {}, "Add a template"), form, add);
}

async function productForm(ctx) {
  const { session } = ctx;
  const [units, categories] = await Promise.all([
    session.call("GET", "/contractor/lookups/contractor_fee_unit_type"),
    session.call("GET", "/contractor/lookups/contractor_product_service_category"),
  ]);
  const problem = problemBox();
  const name = h("input", { id: "product-name", maxlength: 200 });
  const rate = h("input", { id: "product-rate", inputmode: "decimal", placeholder: "150.00" });
  const unit = select(units.values.filter((v) => v.active).map((v) => [v.key, `${v.label}${v.minutes_per_unit ? " (time-based)" : ""}`]), "", { id: "product-unit" });
  const category = select([["", "None"], ...categories.values.filter((v) => v.active).map((v) => [v.key, v.label])], "", { id: "product-category" });
  const override = h("input", { type: "checkbox", id: "product-override" });
  const type = select([["", "Any"], ...ASSIGNMENT_TYPES], "", { id: "product-assignment" });
  const add = h("button", { type: "button" }, "Add product or service");
  add.onclick = () => busy(add, async () => {
    problem.clear();
    try {
      await session.call("POST", "/contractor/products", { name: name.value.trim(), default_rate: rate.value.trim() || null, unit_type: unit.value || null,
        category: category.value || null, override_fee_structures: override.checked, assignment_type: type.value || null });
      ctx.navigate(PAGE, { tab: "catalog", saved: Date.now() });
    } catch (error) {
      problem.show(explain(error));
    }
  });
  return h("section", { "aria-labelledby": "product-new" }, h("h3", { id: "product-new" }, "Add a product or service"), problem.node,
    h("div", { class: "row" }, field("Name", name), field("Default rate", rate), field("Unit", unit), field("Category", category), field("For", type)),
    h("label", { class: "check" }, override, " Its rate overrides contractors' fee structures"), h("div", {}, add));
}

// ------------------------------------------------------------------ allocations

async function allocationsTab(ctx, panel, access) {
  const { session } = ctx;
  const byKey = await contractorsByKey(session.call);
  const contractors = [...byKey.values()];
  const standings = await Promise.all(contractors.map((c) =>
    session.call("GET", `/contractor/contractors/${c.kind}/${encodeURIComponent(c.contractor_id)}/standing`).catch((e) => ({ error: explain(e) }))));
  const status = statusLine();
  const rows = contractors.map((c, i) => {
    const s = standings[i];
    if (s.error) return [contractorName(byKey, c), s.error, "", "", "", ""];
    return [
      contractorName(byKey, c), `${s.year_start} to ${s.year_end}`, s.allocation === null ? "No limit" : money(s.allocation), money(s.used),
      s.remaining === null ? "—" : money(s.remaining),
      h("span", {}, s.over_threshold ? h("strong", { class: "bad" }, "Over: not offered for new work ") : "Within ",
        access.can(PERM.admin) ? h("button", { type: "button", class: "link", "aria-label": `Set the annual allocation of ${c.name}`,
          onclick: () => annualDialog(ctx, c, s) }, "Set…") : null),
    ];
  });
  panel.append(card("Annual allocations (fiscal year to date)", contractors.length
    ? table("!Annual allocations", ["Contractor", "Year", "Allocation", "Approved so far", "Remaining", "Standing"], rows, { id: "annual-table" })
    : h("p", { class: "muted" }, "No contractors registered yet."), status),
  h("p", { class: "hint" }, "Per-case allocations, their log and manual overrides are on the Cases tab."));
}

function annualDialog(ctx, contractor, standing) {
  const problem = problemBox();
  const amount = h("input", { id: "annual-amount", inputmode: "decimal", value: standing.allocation ?? "" });
  const save = h("button", { type: "button" }, "Save");
  const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
  const box = dialog(`Annual allocation: ${contractor.name}`, h("div", {}, problem.node,
    field("Allocation", amount, "Dollars and cents; leave empty for no limit.")), [save, cancel]);
  cancel.onclick = () => box.close();
  save.onclick = () => busy(save, async () => {
    try {
      // The standing names the version of the contractor's own allocation (0 before the first save): a
      // change someone else saved meanwhile is refused (409) rather than overwritten.
      await ctx.session.call("PUT", `/contractor/contractors/${contractor.kind}/${encodeURIComponent(contractor.contractor_id)}/annual-allocation`,
        { version: standing.version ?? 0, amount: amount.value.trim() || null });
      box.close();
      ctx.navigate(PAGE, { tab: "allocations", saved: Date.now() });
    } catch (error) {
      problem.show(explain(error));
    }
  });
}

// ------------------------------------------------------------------ settings

async function settingsTab(ctx, panel) {
  const { session } = ctx;
  const s = await session.call("GET", "/contractor/settings");
  const problem = problemBox();
  const status = statusLine({ id: "settings-status" });
  const check = (id, label, on) => h("label", { class: "check" }, h("input", { type: "checkbox", id, checked: on }), ` ${label}`);
  const list = (values) => (values || []).join(", ");
  const interval = select([["", "No schedule yet"], ["weekly", "Weekly"], ["bi_weekly", "Every two weeks"],
    ["twice_monthly_standard", "Twice monthly (1st–15th, 16th–end)"], ["monthly", "Monthly"]], s.pay_period_schedule?.interval || "", { id: "set-interval" });
  const start = h("input", { type: "date", id: "set-start", value: s.pay_period_schedule?.start_date || "" });
  const n = s.invoice_action_notifications;
  const pdf = s.approved_invoice_pdf;
  const annual = s.annual_allocations;
  const fields = {
    dba: check("set-dba", "Replace the contractor's name with their doing-business-as name on invoices", s.replace_name_with_dba_on_invoices),
    notify: check("set-notify", "Email invoice actions", n.enabled),
    notifyTo: h("input", { id: "set-notify-to", value: list(n.recipients) }),
    notifyContractor: check("set-notify-contractor", "Also email the contractor", n.notify_contractor),
    pdf: check("set-pdf", "Email the approved invoice as a PDF", pdf.enabled),
    pdfTo: h("input", { id: "set-pdf-to", value: list(pdf.recipients) }),
    pdfContractor: check("set-pdf-contractor", "Also send it to the contractor", pdf.notify_contractor),
    subject: h("input", { id: "set-pdf-subject", value: pdf.email_subject, maxlength: 200 }),
    body: h("textarea", { id: "set-pdf-body", rows: 3, maxlength: 10000 }, pdf.email_body),
    userAllocation: h("input", { id: "set-user-allocation", inputmode: "decimal", value: annual.user_allocation ?? "" }),
    orgAllocation: h("input", { id: "set-org-allocation", inputmode: "decimal", value: annual.organization_allocation ?? "" }),
    fiscal: select(Array.from({ length: 12 }, (_, i) => [String(i + 1), new Date(2026, i, 1).toLocaleString(undefined, { month: "long" })]),
      String(annual.fiscal_year_start_month), { id: "set-fiscal" }),
  };
  const addOns = Object.entries({ organizations: "Organizations", allocations: "Annual allocations", organization_allocations: "Organization allocations",
    matter_allocations: "Case allocations", formula_rates: "Formula rates" })
    .map(([key, label]) => h("label", { class: "check" }, h("input", { type: "checkbox", name: "set-addon", value: key, checked: s.add_ons[key] }), ` ${label}`));
  const save = h("button", { type: "submit" }, "Save settings");
  const split = (text) => text.split(/[,;\s]+/).map((x) => x.trim()).filter(Boolean);
  const form = h("form", { novalidate: true, id: "settings-form" }, problem.node,
    h("fieldset", {}, h("legend", {}, "Invoices"), fields.dba),
    h("fieldset", {}, h("legend", {}, "Pay periods"), h("div", { class: "row" }, field("Interval", interval), field("First period starts", start))),
    h("fieldset", {}, h("legend", {}, "Notifications"), fields.notify, field("Recipients", fields.notifyTo, "Email addresses, separated by commas."), fields.notifyContractor),
    h("fieldset", {}, h("legend", {}, "Approved invoice PDF"), fields.pdf, field("Recipients", fields.pdfTo, "Email addresses, separated by commas."), fields.pdfContractor,
      field("Email subject", fields.subject, "May use {invoice_number}, {contractor_name}, {total}, {approved_on}."), field("Email body", fields.body)),
    h("fieldset", {}, h("legend", {}, "Annual allocations"), h("div", { class: "row" }, field("Per contractor", fields.userAllocation, "Empty: no limit."),
      field("Per organization", fields.orgAllocation, "Empty: no limit."), field("Fiscal year starts in", fields.fiscal))),
    h("fieldset", {}, h("legend", {}, "Add-ons"), h("div", { class: "cw-checks" }, addOns)),
    save, status);
  form.onsubmit = (event) => {
    event.preventDefault();
    problem.clear();
    if (interval.value && !start.value) return problem.show("Give the date the first pay period starts.");
    busy(save, async () => {
      try {
        const saved = await session.call("PUT", "/contractor/settings", {
          version: s.version,
          replace_name_with_dba_on_invoices: fields.dba.querySelector("input").checked,
          invoice_action_notifications: { enabled: fields.notify.querySelector("input").checked, recipients: split(fields.notifyTo.value),
            notify_contractor: fields.notifyContractor.querySelector("input").checked },
          approved_invoice_pdf: { enabled: fields.pdf.querySelector("input").checked, recipients: split(fields.pdfTo.value),
            notify_contractor: fields.pdfContractor.querySelector("input").checked, email_subject: fields.subject.value, email_body: fields.body.value,
            logo_document_key: pdf.logo_document_key },
          annual_allocations: { user_allocation: fields.userAllocation.value.trim() || null, organization_allocation: fields.orgAllocation.value.trim() || null,
            fiscal_year_start_month: Number(fields.fiscal.value) },
          add_ons: Object.fromEntries([...form.querySelectorAll("input[name=set-addon]")].map((b) => [b.value, b.checked])),
          pay_period_schedule: interval.value ? { interval: interval.value, start_date: start.value } : null,
        });
        s.version = saved.version;
        status.textContent = "Settings saved.";
      } catch (error) {
        problem.show(explain(error));
      }
    });
  };
  panel.append(card("Contractor settings", form), recommendedDefaultsCard(ctx, s));
}

// The recommended-contractors list's custom default filters: saved on their own (the settings' version is
// shared with the form above, so whichever saves second after a change elsewhere is told it is stale).
function recommendedDefaultsCard(ctx, s) {
  const custom = s.recommended_list.custom_default_filters;
  const problem = problemBox();
  const status = statusLine({ id: "rec-defaults-status" });
  const mode = (value, label) => h("label", { class: "check" },
    h("input", { type: "radio", name: "rec-default-mode", value, checked: (value === "custom") === Boolean(custom) }), ` ${label}`);
  const types = ASSIGNMENT_TYPES.map(([key, label]) => h("label", { class: "check" },
    h("input", { type: "checkbox", name: "rec-default-type", value: key, checked: custom?.assignment_types.includes(key) }), ` ${label}`));
  const inputs = Object.fromEntries(FILTER_ATTRIBUTES.map(([key]) => [key, h("input", { id: `rec-default-${key}`, value: (custom?.values[key] || []).join(", ") })]));
  const assigned = h("input", { type: "checkbox", id: "rec-default-assigned", checked: custom?.include_already_assigned });
  const over = h("input", { type: "checkbox", id: "rec-default-over", checked: custom?.include_over_allocation });
  const save = h("button", { type: "button", id: "rec-defaults-save" }, "Save default filters");
  const body = h("div", {},
    h("fieldset", {}, h("legend", {}, "Kinds of work"), h("div", { class: "cw-checks" }, types)),
    h("div", { class: "row" }, field("Subjects", inputs.subjects, "Legal problem codes, comma-separated."),
      field("Languages spoken", inputs.languages_spoken, "Interpreters must speak all of them."),
      field("Languages written", inputs.languages_written, "Translators must write all of them.")),
    h("div", { class: "row" }, field("Expertise", inputs.subject_matter_expertise, "Subject matter expertise keys."),
      field("Investigation types", inputs.investigation_types, "Investigation type keys.")),
    h("div", { class: "cw-checks" }, h("label", { class: "check" }, assigned, " Include those already assigned to the case"),
      h("label", { class: "check" }, over, " Include those over their annual allocation")));
  const node = card("Recommended contractors: default filters", problem.node,
    h("p", { class: "hint" }, "The recommended contractors of a case open with these filters. Staff can remove them or show everyone."),
    h("fieldset", {}, h("legend", {}, "Where the default filters come from"), h("div", { class: "cw-checks" },
      mode("case", "Inherit them from each case: its problem code and the languages its client speaks"),
      mode("custom", "Use these filters for every case"))),
    body, save, status);
  const choice = () => node.querySelector("input[name=rec-default-mode]:checked")?.value;
  const sync = () => { body.hidden = choice() !== "custom"; };
  node.querySelectorAll("input[name=rec-default-mode]").forEach((radio) => { radio.onchange = sync; });
  sync();
  const split = (text) => text.split(",").map((v) => v.trim()).filter(Boolean);
  save.onclick = () => busy(save, async () => {
    problem.clear();
    const filters = choice() !== "custom" ? null : {
      assignment_types: [...body.querySelectorAll("input[name=rec-default-type]:checked")].map((b) => b.value),
      values: Object.fromEntries(Object.entries(inputs).map(([key, input]) => [key, split(input.value)]).filter(([, v]) => v.length)),
      include_already_assigned: assigned.checked, include_over_allocation: over.checked,
    };
    try {
      const saved = await ctx.session.call("PUT", "/contractor/settings/recommended-list", { version: s.version, custom_default_filters: filters });
      s.version = saved.version;
      status.textContent = filters ? "Default filters saved: every case's list opens with them." : "Default filters cleared: each case gives its own.";
    } catch (error) {
      problem.show(explain(error));
    }
  });
  return node;
}

// ------------------------------------------------------------------ lookups

async function lookupsTab(ctx, panel) {
  const { session } = ctx;
  const kind = LOOKUPS.some(([k]) => k === ctx.params.lookup) ? ctx.params.lookup : LOOKUPS[0][0];
  const chooser = select(LOOKUPS, kind, { id: "lookup-kind", onchange: (e) => ctx.navigate(PAGE, { tab: "lookups", lookup: e.target.value }) });
  const lookup = await session.call("GET", `/contractor/lookups/${kind}`);
  const problem = problemBox();
  const change = (value, body) => busy(document.activeElement, async () => {
    try {
      await session.call("PATCH", `/contractor/lookups/${kind}/values/${encodeURIComponent(value.key)}`, { version: lookup.version, ...body });
      ctx.navigate(PAGE, { tab: "lookups", lookup: kind, saved: Date.now() });
    } catch (error) {
      problem.show(explain(error));
    }
  });
  const rows = lookup.values.map((v) => [
    v.label, v.key, v.system ? "System" : "Firm", v.minutes_per_unit ? `${v.minutes_per_unit} min` : "—", v.active ? "Active" : "Switched off",
    v.system ? "" : h("button", { type: "button", class: "link", "aria-label": `${v.active ? "Switch off" : "Switch on"} ${v.label}`,
      onclick: () => change(v, { active: !v.active }) }, v.active ? "Switch off" : "Switch on"),
  ]);
  const key = h("input", { id: "lookup-key", maxlength: 64, placeholder: "lower_case_key" });
  const label = h("input", { id: "lookup-label", maxlength: 100 });
  const minutes = h("input", { id: "lookup-minutes", type: "number", min: 1, max: 1440 });
  const add = h("button", { type: "button", class: "secondary" }, "Add value");
  add.onclick = () => busy(add, async () => {
    problem.clear();
    try {
      await session.call("POST", `/contractor/lookups/${kind}/values`, { version: lookup.version, key: key.value.trim(), label: label.value.trim(),
        minutes_per_unit: minutes.value ? Number(minutes.value) : null });
      ctx.navigate(PAGE, { tab: "lookups", lookup: kind, saved: Date.now() });
    } catch (error) {
      problem.show(explain(error));
    }
  });
  const systemOnly = kind.endsWith("_status") || kind === "contractor_billing_transaction_type";
  panel.append(card("Lookups", field("Lookup", chooser), problem.node,
    table("!Lookup values", ["Label", "Key", "Source", "Time unit", "State", ""], rows, { id: "lookup-table" }),
    systemOnly ? h("p", { class: "hint" }, "This lookup holds system values only.")
      : h("div", { class: "toolbar" }, field("Key", key), field("Label", label),
        kind === "contractor_fee_unit_type" ? field("Minutes per unit", minutes, "Only for time-based units.") : null, add)));
}
