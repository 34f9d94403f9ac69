// Matters and clients as the timeline shows them: looked up by id once per page load (a week touches a few
// dozen matters, never the firm's whole list), and a search-as-you-type picker.
import { h } from "./util.js";

const matters = new Map(); // matter_id -> Promise<matter | null>
const clients = new Map(); // client_id -> Promise<client | null>

export function matterById(call, id) {
  if (!id) return Promise.resolve(null);
  if (!matters.has(id)) matters.set(id, call("GET", `/matters/${encodeURIComponent(id)}`).catch(() => null));
  return matters.get(id);
}

export function clientById(call, id) {
  if (!id) return Promise.resolve(null);
  if (!clients.has(id)) clients.set(id, call("GET", `/clients/${encodeURIComponent(id)}`).catch(() => null));
  return clients.get(id);
}

/** Resolve many matters and their clients at once: { matters: Map, clients: Map }. */
export async function resolveMatters(call, ids) {
  const unique = [...new Set(ids.filter(Boolean))];
  const found = await Promise.all(unique.map((id) => matterById(call, id)));
  const byId = new Map(unique.map((id, i) => [id, found[i]]));
  const clientIds = [...new Set(found.filter(Boolean).map((m) => m.client_id))];
  const foundClients = await Promise.all(clientIds.map((id) => clientById(call, id)));
  return { matters: byId, clients: new Map(clientIds.map((id, i) => [id, foundClients[i]])) };
}

export function remember(matter) {
  matters.set(matter.matter_id, Promise.resolve(matter));
}

export function matterLabel(matter) {
  return matter ? `${matter.number} ${matter.name}` : "";
}

/**
 * A matter search field: type a number or a name, pick from the list. `onPick(matter)` is called with
 * the chosen matter. `initial` options (e.g. suggestions) are listed before anything is typed.
 */
export function matterPicker(call, { label = "Matter", onPick, initial = [] }) {
  const id = `mp-${Math.random().toString(36).slice(2, 8)}`;
  const input = h("input", {
    id, type: "search", autocomplete: "off", placeholder: "Number or name, e.g. 2026-0101 or Acme",
    role: "combobox", "aria-expanded": "false", "aria-controls": `${id}-list`, "aria-autocomplete": "list",
  });
  const list = h("ul", { id: `${id}-list`, class: "picker-list", role: "listbox", "aria-label": `${label} results` });
  const chosen = h("p", { class: "picked", "aria-live": "polite" });
  let timer = null;
  let active = -1;

  function show(options, note) {
    list.replaceChildren(
      ...options.map((option, index) =>
        h("li", {
          role: "option", id: `${id}-o${index}`, tabindex: "-1", "aria-selected": "false", class: "picker-option",
          onclick: () => pick(option.matter), onkeydown: (e) => { if (e.key === "Enter") pick(option.matter); },
        }, h("strong", {}, option.matter.number), " ", option.matter.name,
        option.note ? h("span", { class: "muted" }, ` — ${option.note}`) : null)),
    );
    if (!options.length && note) list.replaceChildren(h("li", { class: "muted" }, note));
    input.setAttribute("aria-expanded", String(options.length > 0));
    active = -1;
  }

  function pick(matter) {
    remember(matter);
    chosen.textContent = `Chosen: ${matterLabel(matter)}`;
    input.value = matter.number;
    list.replaceChildren();
    input.setAttribute("aria-expanded", "false");
    onPick(matter);
  }

  async function search(text) {
    if (text.length < 2) return show(initial);
    const [byNumber, byName] = await Promise.all([
      call("GET", `/matters?limit=10&number=${encodeURIComponent(text)}`).catch(() => ({ items: [] })),
      call("GET", `/matters?limit=10&name=${encodeURIComponent(text)}`).catch(() => ({ items: [] })),
    ]);
    const seen = new Set();
    const options = [...byNumber.items, ...byName.items]
      .filter((m) => !seen.has(m.matter_id) && seen.add(m.matter_id))
      .map((matter) => ({ matter }));
    show(options, `No open matter starts with “${text}”.`);
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => search(input.value.trim()), 200);
  });
  input.addEventListener("focus", () => { if (!input.value) show(initial); });
  input.addEventListener("keydown", (event) => {
    const options = [...list.querySelectorAll("[role=option]")];
    if (!options.length) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      active = (active + (event.key === "ArrowDown" ? 1 : -1) + options.length) % options.length;
      options.forEach((o, i) => o.setAttribute("aria-selected", String(i === active)));
      input.setAttribute("aria-activedescendant", options[active].id);
    } else if (event.key === "Enter" && active >= 0) {
      event.preventDefault();
      options[active].click();
    }
  });
  const node = h("div", { class: "field picker" }, h("label", { for: id }, label), input, list, chosen);
  return { node, input, showInitial: (options) => { initial = options; show(options); } };
}

/** Where the console shows one matter (the Clients & matters page's matter view). */
export function matterHref(matterId) {
  return `#directory?${new URLSearchParams({ matter: matterId })}`;
}

/**
 * A comma-separated list of languages as the API keeps them: trimmed, blanks left out, each once whatever
 * its case (the first spelling wins), so the preview shows what will be saved.
 */
export function parseLanguages(text) {
  const seen = new Map();
  for (const part of String(text || "").split(",")) {
    const language = part.trim();
    if (language && !seen.has(language.toLowerCase())) seen.set(language.toLowerCase(), language);
  }
  return [...seen.values()];
}

/**
 * Only the fields of `wanted` that differ from `matter`, for a PATCH: the API keeps what is left out, and
 * naming a problem code (even the same one) re-aligns the case's contractor allocation, so unchanged fields
 * must not be sent.
 */
export function matterChanges(matter, wanted) {
  const changes = {};
  for (const [key, value] of Object.entries(wanted)) {
    if (JSON.stringify(matter[key] ?? null) !== JSON.stringify(value ?? null)) changes[key] = value;
  }
  return changes;
}

/**
 * The field errors of a 422 by the matter field they name: "body.languages.0" and "languages" both land on
 * "languages" (pydantic names the body and list positions, the domain names the bare field).
 */
export function matterFieldErrors(error) {
  const byField = new Map();
  for (const { field, message } of error?.fieldErrors || []) {
    const name = String(field || "").replace(/^body\./, "").split(".")[0];
    byField.set(name, [...(byField.get(name) || []), message]);
  }
  return byField;
}
