// The firm's people: invite, roles, external ids (billing systems, payroll), phone extensions.
import { ApiError } from "../../shared/api.js";
import { busy, card, dialog, explain, field, h, statusLine } from "../util.js";

const ROLES = ["attorney", "assistant", "firm_admin", "billing_manager", "contractor", "contractor_staff"];
const ROLE_LABELS = { attorney: "Attorney", assistant: "Assistant", firm_admin: "Firm admin", billing_manager: "Billing manager",
  contractor: "Contractor", contractor_staff: "Contractor staff" };

/** "clio=344, payroll=E-77" → {clio: "344", payroll: "E-77"}; throws naming the bad part. */
export function parsePairs(text) {
  const pairs = {};
  for (const part of text.split(/[,\n]/).map((p) => p.trim()).filter(Boolean)) {
    const [key, ...rest] = part.split("=");
    if (!key.trim() || !rest.join("=").trim()) throw new Error(`“${part}” is not system=id (for example clio=344)`);
    pairs[key.trim()] = rest.join("=").trim();
  }
  return pairs;
}

const showPairs = (pairs) => Object.entries(pairs || {}).map(([k, v]) => `${k}=${v}`).join(", ");

function roleBoxes(prefix, chosen) {
  return h("fieldset", { class: "roles" }, h("legend", {}, "Roles"),
    ROLES.map((role) => {
      const box = h("input", { type: "checkbox", name: `${prefix}-role`, value: role, checked: chosen.includes(role) });
      box.defaultChecked = box.checked; // so form.reset() after an invite returns to these roles, not to none
      return h("label", { class: "check" }, box, ` ${ROLE_LABELS[role]} `);
    }));
}

const chosenRoles = (node, prefix) => [...node.querySelectorAll(`input[name=${prefix}-role]:checked`)].map((b) => b.value);

export async function render(ctx, root) {
  const { session } = ctx;
  const canWrite = session.can("roster:write");
  const rows = h("tbody", { id: "roster-rows" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Show more");
  const status = statusLine();
  root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "People")));

  if (canWrite) {
    const email = h("input", { type: "email", id: "invite-email", required: true, autocomplete: "off" });
    const name = h("input", { id: "invite-name", required: true });
    const zone = h("input", { id: "invite-zone", placeholder: session.me.firm.time_zone, list: "zones" });
    const ids = h("input", { id: "invite-ids", placeholder: "clio=344, payroll=E-77" });
    const exts = h("input", { id: "invite-exts", placeholder: "204, 205" });
    const problem = h("div", { class: "error", role: "alert", hidden: true });
    const roles = roleBoxes("invite", ["attorney"]);
    // Each field the API may name, with the place its message shows (beside the field, not only above the form).
    const fields = { email, display_name: name, time_zone: zone, roles, external_ids: ids, phone_extensions: exts };
    const errors = Object.fromEntries(Object.keys(fields).map((key) =>
      [key, h("p", { class: "field-error", id: `invite-${key.replaceAll("_", "-")}-error`, hidden: true })]));
    const withError = (node, key) => { node.append(errors[key]); return node; };
    const form = h("form", { class: "invite", novalidate: true },
      problem,
      h("div", { class: "row" }, withError(field("Email", email), "email"), withError(field("Name", name), "display_name"),
        withError(field("Time zone", zone, "Leave empty for the firm's zone."), "time_zone")),
      withError(roles, "roles"),
      h("div", { class: "row" }, withError(field("External ids", ids, "Their ids in other systems, system=id."), "external_ids"),
        withError(field("Phone extensions", exts, "Calls from these extensions count as theirs."), "phone_extensions")),
      h("button", { type: "submit" }, "Invite"));

    function clearErrors() {
      problem.hidden = true;
      for (const [key, control] of Object.entries(fields)) {
        errors[key].hidden = true;
        control.removeAttribute("aria-invalid");
        const described = (control.getAttribute("aria-describedby") || "").split(" ").filter((id) => id && id !== errors[key].id);
        if (described.length) control.setAttribute("aria-describedby", described.join(" "));
        else control.removeAttribute("aria-describedby");
      }
    }

    function mark(key, message) {
      const control = fields[key];
      errors[key].textContent = message;
      errors[key].hidden = false;
      control.setAttribute("aria-invalid", "true");
      control.setAttribute("aria-describedby", [control.getAttribute("aria-describedby"), errors[key].id].filter(Boolean).join(" "));
    }

    /** Put the API's field problems beside their fields; a taken email (409 duplicate) is the email's. */
    function showErrors(error) {
      const byField = new Map();
      for (const { field: name, message } of error.fieldErrors || []) {
        const key = String(name || "").replace(/^body\./, "").split(".")[0];
        // pydantic names the pattern an email breaks; a person needs to hear that it is not an email.
        const text = key === "email" && /pattern/.test(message) ? `“${email.value.trim()}” is not an email address.` : message;
        byField.set(key, [...(byField.get(key) || []), text]);
      }
      if (error.status === 409 && error.problem?.code === "duplicate" && /^email\b/.test(error.message)) {
        byField.set("email", ["Someone in the firm already has this email: find them in the list below."]);
      }
      const marked = [...byField].filter(([key]) => fields[key]);
      for (const [key, messages] of marked) mark(key, messages.join("; "));
      if (marked.length) refused(marked.length, marked[0][0]);
      else { problem.textContent = explain(error); problem.hidden = false; }
    }

    function refused(count, firstKey) {
      problem.textContent = `Nobody was invited: correct the marked ${count === 1 ? "field" : "fields"} and try again.`;
      problem.hidden = false;
      const first = fields[firstKey];
      (first.matches("fieldset") ? first.querySelector("input") : first).focus();
    }

    form.onsubmit = async (event) => {
      event.preventDefault();
      clearErrors();
      let externalIds;
      try {
        externalIds = parsePairs(ids.value);
      } catch (error) {
        mark("external_ids", error.message);
        refused(1, "external_ids");
        return;
      }
      try {
        const body = {
          email: email.value.trim(), display_name: name.value.trim(), roles: chosenRoles(form, "invite"),
          time_zone: zone.value.trim() || null, external_ids: externalIds,
          phone_extensions: exts.value.split(",").map((x) => x.trim()).filter(Boolean),
        };
        const user = await busy(form.querySelector("button[type=submit]"), () => session.call("POST", "/users", body));
        status.textContent = `${user.display_name} is invited; they become active when they first sign in.`;
        form.reset();
        rows.replaceChildren();
        await load();
      } catch (error) {
        if (error instanceof ApiError) showErrors(error);
        else { problem.textContent = explain(error); problem.hidden = false; }
      }
    };
    root.append(card("Invite someone", form, status));
  }

  root.append(h("datalist", { id: "zones" }, (Intl.supportedValuesOf?.("timeZone") || []).map((z) => h("option", { value: z }))));
  root.append(card("People in your firm",
    h("div", { class: "table-wrap" }, h("table", { id: "roster-table" },
      h("caption", { class: "visually-hidden" }, "People in your firm"),
      h("thead", {}, h("tr", {}, ["Name", "Email", "Roles", "Status", "External ids", "Extensions", ""].map((t) => h("th", { scope: "col" }, t)))),
      rows)),
    more));

  function row(user) {
    return h("tr", { dataset: { user: user.user_id } },
      h("td", {}, user.display_name), h("td", {}, user.email),
      h("td", {}, user.roles.map((r) => ROLE_LABELS[r] || r).join(", ")),
      h("td", { class: `status-${user.status}` }, user.status),
      h("td", {}, showPairs(user.external_ids)), h("td", {}, (user.phone_extensions || []).join(", ")),
      h("td", {}, canWrite ? h("button", { type: "button", class: "link", "aria-label": `Edit ${user.display_name}`,
        onclick: () => edit(user) }, "Edit") : ""));
  }

  async function edit(user) {
    const problem = h("div", { class: "error", role: "alert", hidden: true });
    const ids = h("input", { id: "edit-ids", value: showPairs(user.external_ids) });
    const exts = h("input", { id: "edit-exts", value: (user.phone_extensions || []).join(", ") });
    const zone = h("input", { id: "edit-zone", value: user.time_zone || "", list: "zones" });
    const state = h("select", { id: "edit-status" }, ["invited", "active", "disabled"].map((s) => h("option", { value: s, selected: s === user.status }, s)));
    const body = h("div", {}, problem, roleBoxes("edit", user.roles), field("External ids", ids), field("Phone extensions", exts),
      field("Time zone", zone), field("Status", state));
    const save = h("button", { type: "button" }, "Save");
    const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
    const box = dialog(`Edit ${user.display_name}`, body, [save, cancel]);
    cancel.onclick = () => box.close();
    save.onclick = async () => {
      try {
        const changes = { version: user.version, roles: chosenRoles(body, "edit"), external_ids: parsePairs(ids.value),
          phone_extensions: exts.value.split(",").map((x) => x.trim()).filter(Boolean), time_zone: zone.value.trim() || null };
        if (state.value !== user.status) changes.status = state.value;
        const saved = await busy(save, () => session.call("PATCH", `/users/${user.user_id}`, changes));
        rows.querySelector(`tr[data-user="${CSS.escape(user.user_id)}"]`)?.replaceWith(row(saved));
        status.textContent = `${saved.display_name} is saved.`;
        box.close();
      } catch (error) {
        problem.textContent = explain(error);
        problem.hidden = false;
      }
    };
  }

  async function load(cursor) {
    const page = await session.call("GET", `/users?limit=50${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    const fragment = document.createDocumentFragment();
    for (const user of page.items) fragment.append(row(user));
    rows.append(fragment);
    more.hidden = !page.next_cursor;
    more.onclick = () => load(page.next_cursor).catch((e) => ctx.problem(explain(e)));
  }
  await load();
}
