// Small DOM and formatting helpers shared by the console's pages. No framework: pages build their DOM
// with `h()` into fragments and replace what they own in one go.
import { ApiError } from "../shared/api.js";

/**
 * Create an element: h("button", { class: "secondary", onclick }, "Save").
 * Attributes starting with "on" are listeners; `dataset`, `hidden`, `checked`, `value`, `disabled`,
 * `selected` are set as properties; null/undefined/false attributes are left out.
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (["hidden", "checked", "value", "disabled", "selected", "indeterminate"].includes(name)) node[name] = value;
    else node.setAttribute(name, value === true ? "" : value);
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else node.append(child instanceof Node ? child : String(child));
  }
}

/** A page section with a heading (the heading labels the region for screen readers). */
export function card(title, ...children) {
  const id = `card-${title.toLowerCase().replace(/[^a-z0-9]+/g, "-")}`;
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), ...children);
}

/** A labelled form field: the label is tied to the control, an optional hint is announced with it. */
export function field(label, control, hint) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  const hintNode = hint ? h("span", { class: "hint", id: `${id}-hint` }, hint) : null;
  if (hintNode) control.setAttribute("aria-describedby", hintNode.id);
  return h("div", { class: "field" }, h("label", { for: id }, label), control, hintNode);
}

export function select(options, value, attrs = {}) {
  return h(
    "select",
    attrs,
    options.map(([v, text]) => h("option", { value: v, selected: String(v) === String(value) }, text)),
  );
}

/** A table with a caption, column headers and rows of cells (strings or nodes). */
export function table(caption, headers, rows, attrs = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      attrs,
      h("caption", { class: caption.startsWith("!") ? "visually-hidden" : "" }, caption.replace(/^!/, "")),
      h("thead", {}, h("tr", {}, headers.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", {}, rows.map((cells) => h("tr", {}, cells.map((c) => h("td", {}, c))))),
    ),
  );
}

/** Hours with two decimals from seconds: 5400 → "1.50". */
export function hours(seconds) {
  return (Number(seconds || 0) / 3600).toFixed(2);
}

export function minutes(seconds) {
  return `${Math.round(Number(seconds || 0) / 60)} min`;
}

/** An ISO day (YYYY-MM-DD) of a Date in local time. */
export function isoDay(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

export function parseDay(text) {
  const [y, m, d] = text.split("-").map(Number);
  return new Date(y, m - 1, d);
}

export function addDays(text, days) {
  const date = parseDay(text);
  date.setDate(date.getDate() + days);
  return isoDay(date);
}

export function mondayOf(text) {
  const date = parseDay(text);
  const shift = (date.getDay() + 6) % 7;
  date.setDate(date.getDate() - shift);
  return isoDay(date);
}

export function daysBetween(first, last) {
  const days = [];
  for (let day = first; day <= last && days.length < 62; day = addDays(day, 1)) days.push(day);
  return days;
}

const DAY_LABEL = new Intl.DateTimeFormat(undefined, { weekday: "short", month: "short", day: "numeric" });

export function dayLabel(text) {
  return DAY_LABEL.format(parseDay(text));
}

/** A time of day in the timeline's zone: "09:42". */
export function timeIn(iso, zone) {
  if (!iso) return "";
  try {
    return new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", timeZone: zone }).format(new Date(iso));
  } catch {
    return new Date(iso).toISOString().slice(11, 16);
  }
}

export function dateTime(iso) {
  return iso ? new Date(iso).toLocaleString() : "";
}

/** What a failed call means for the person, in one sentence with what to do next. */
export function explain(error) {
  if (error instanceof ApiError) {
    if (error.status === 403) return `${error.message}. Ask a firm admin if you need this.`;
    if (error.status === 409) return `${error.message}. Someone changed it meanwhile: reload and try again.`;
    if (error.status === 422 || error.status === 400) return `${error.explanation}. Correct it and try again.`;
    if (error.status === 429) return "Matterline is busy. Wait a moment and try again.";
    if (error.status >= 500) return `${error.message} Try again in a minute; if it persists, tell your firm admin.`;
    return error.explanation;
  }
  return error?.message || String(error);
}

/** Run `work` while `button` shows it is busy (disabled, aria-busy), and restore it afterwards. */
export async function busy(button, work, label = "Working…") {
  const text = button.textContent;
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  button.textContent = label;
  try {
    return await work();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
    button.textContent = text;
  }
}

/** A status line the page updates; screen readers announce its changes politely. */
export function statusLine(attrs = {}) {
  return h("p", { class: "status", role: "status", "aria-live": "polite", ...attrs });
}

/** A progress bar with a label, for imports and posting. */
export function progressBar(label) {
  const bar = h("progress", { max: 100, value: 0, "aria-label": label });
  const text = h("span", { class: "muted" });
  const node = h("div", { class: "progress", hidden: true }, bar, " ", text);
  return {
    node,
    update(done, total, phase) {
      node.hidden = false;
      bar.max = Math.max(total, 1);
      bar.value = Math.min(done, bar.max);
      text.textContent = `${phase ? `${phase}: ` : ""}${done} of ${total}`;
    },
    hide() {
      node.hidden = true;
    },
  };
}

/** Every item of a cursor-paged list route (stops at `max` items). */
export async function allPages(call, path, max = 2000) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await call("GET", `${path}${sep}limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}

/** Save text as a file the browser downloads. */
export function download(name, text, type = "text/plain") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h("a", { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A modal dialog with a title; resolves when closed. Focus moves in and returns to the opener. */
export function dialog(title, body, actions) {
  const opener = document.activeElement;
  const titleId = `dlg-${Math.random().toString(36).slice(2, 8)}`;
  const node = h("dialog", { "aria-labelledby": titleId, class: "dialog" },
    h("h2", { id: titleId }, title), body, h("div", { class: "actions" }, actions));
  document.body.append(node);
  node.showModal();
  return {
    node,
    close() {
      node.close();
      node.remove();
      if (opener instanceof HTMLElement) opener.focus();
    },
  };
}
