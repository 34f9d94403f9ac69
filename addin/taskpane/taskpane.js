// The Matterline task pane: the open item's matter (suggested, assigned, changed), the time spent on it,
// personal items, manual time, today's totals and release, and an offline queue behind every capture.
//
// Time is measured, not guessed: while an item is open the pane sends a heartbeat every HEARTBEAT_MS
// covering the whole span since the item was opened (ItemChanged closes the span). The server merges
// heartbeats by the item's stable key (ActivityWatch-style: same item, within the pulse time, time only
// grows), so a heartbeat sent twice, late, or out of order changes nothing.
import { apiClient, ApiError } from "../shared/api.js";
import { CaptureQueue } from "./queue.js";
import { accessToken, forgetToken } from "./signin.js";

const HEARTBEAT_MS = 30_000;
const RETRY_MS = 15_000; // how often a waiting queue tries again (also at once when the network returns)
const CORRELATION_HEADER = "x-matterline-correlation";
const CORRELATION_PROPERTY = "matterlineCorrelation";
const STARTED_PROPERTY = "matterlineComposeStartedAt";

const $ = (id) => document.getElementById(id);

const pane = {
  config: null,
  call: null,
  queue: new CaptureQueue(),
  current: null, // {kind, key, eventId, details, openedAt, correlationId}
  timeline: null,
  suggestions: null,
  searchTimer: null,
  renderTimer: null,
};

// ----------------------------------------------------------------------------------- helpers

function officeCall(target, method, ...args) {
  return new Promise((resolve, reject) => {
    target[method](...args, (result) => {
      if (result.status === Office.AsyncResultStatus.Succeeded) resolve(result.value);
      else reject(new Error(result.error ? result.error.message : `${method} failed`));
    });
  });
}

async function optional(promise, fallback) {
  try {
    return await promise;
  } catch {
    return fallback;
  }
}

async function eventIdFor(key) {
  // The server's event id: the first 20 hex digits of SHA-256 of the stable key.
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("").slice(0, 20);
}

function newId() {
  return crypto.randomUUID();
}

export function formatDuration(seconds) {
  const total = Math.max(0, Math.round(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = total % 60;
  if (hours) return `${hours} h ${String(minutes).padStart(2, "0")} min`;
  if (minutes) return `${minutes} min ${String(rest).padStart(2, "0")} s`;
  return `${rest} s`;
}

function clock(seconds) {
  const total = Math.max(0, Math.floor(seconds));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, "0")}`;
}

function addresses(list) {
  return (list || []).map((a) => (a.emailAddress || "").toLowerCase()).filter(Boolean);
}

function show(id, visible) {
  $(id).hidden = !visible;
}

// ----------------------------------------------------------------------------------- problems

function showProblem(message, action = null) {
  $("problem-text").textContent = message;
  const button = $("problem-action");
  button.hidden = !action;
  if (action) {
    button.textContent = action.label;
    button.onclick = action.run;
  }
  show("problem", true);
}

function clearProblem() {
  show("problem", false);
}

/** Turns any failure into a sentence that says what to do. */
function explain(error, doing) {
  if (error instanceof ApiError) {
    if (error.status === 0) return `You're offline, so ${doing} has to wait. It is kept and sent when you're back.`;
    if (error.status === 401) return "Your sign-in has ended. Sign in again to continue.";
    if (error.status === 403) return `Your account may not do this (${doing}). Ask your firm's Matterline admin.`;
    if (error.status === 404) return `${error.message} Reload the item and try again.`;
    if (error.status === 409) return `Someone changed this at the same time. It has been reloaded; try again.`;
    if (error.status === 429) return "Matterline is busy. Wait a minute and try again.";
    if (error.status >= 500) return `Matterline had a problem with ${doing}. Try again in a moment.`;
    return error.message;
  }
  return `Something went wrong with ${doing}: ${error.message}`;
}

async function guarded(doing, action) {
  try {
    clearProblem();
    return await action();
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      forgetToken();
      pane.call = null;
      showSignedOut();
    }
    showProblem(explain(error, doing));
    return undefined;
  }
}

// ----------------------------------------------------------------------------------- sign-in

function showSignedOut() {
  show("signed-out", true);
  for (const id of ["item", "no-item", "manual", "today"]) show(id, false);
}

async function connect(interactive) {
  const token = await accessToken({ interactive, config: pane.config });
  if (!token) return false;
  pane.call = apiClient(pane.config.apiBaseUrl, token);
  show("signed-out", false);
  show("manual", true);
  show("today", true);
  return true;
}

async function signInClicked() {
  $("sign-in").disabled = true;
  try {
    clearProblem();
    if (await connect(true)) {
      await itemChanged();
      await flush();
      await refresh(); // the day's totals, even when nothing was waiting to be sent
    }
  } catch (error) {
    showProblem(error.message);
  } finally {
    $("sign-in").disabled = false;
  }
}

// ----------------------------------------------------------------------------------- the open item

async function describe(item) {
  if (!item) return null;
  const compose = typeof item.subject === "object" && item.subject !== null;
  if (!compose) {
    const body = await optional(officeCall(item.body, "getAsync", Office.CoercionType.Text), "");
    const sender = item.from ? item.from.emailAddress.toLowerCase() : "";
    const key = `read:${item.internetMessageId || `item:${item.itemId}`}`;
    return {
      kind: "read",
      key,
      eventId: await eventIdFor(key),
      details: {
        subject: item.subject || "",
        sender,
        participants: [sender, ...addresses(item.to), ...addresses(item.cc)].filter(Boolean),
        conversationId: item.conversationId || "",
        itemId: item.itemId || null,
        internetMessageId: item.internetMessageId || null,
        bodyPreview: (body || "").slice(0, 4000),
        bodyChars: (body || "").length,
      },
    };
  }
  const [subject, to, cc, body] = await Promise.all([
    optional(officeCall(item.subject, "getAsync"), ""),
    optional(officeCall(item.to, "getAsync"), []),
    optional(officeCall(item.cc, "getAsync"), []),
    optional(officeCall(item.body, "getAsync", Office.CoercionType.Text), ""),
  ]);
  const correlation = await correlationOf(item);
  const key = `compose:${correlation.id}`;
  return {
    kind: "compose",
    key,
    eventId: await eventIdFor(key),
    correlationId: correlation.id,
    details: {
      subject: subject || "",
      sender: (Office.context.mailbox.userProfile.emailAddress || "").toLowerCase(),
      participants: [...addresses(to), ...addresses(cc)],
      conversationId: item.conversationId || "",
      bodyPreview: (body || "").slice(0, 4000),
      bodyChars: (body || "").length,
    },
  };
}

async function readCorrelation(item) {
  const header = item.internetHeaders
    ? await optional(officeCall(item.internetHeaders, "getAsync", [CORRELATION_HEADER]), {})
    : {};
  const properties = await optional(officeCall(item, "loadCustomPropertiesAsync"), null);
  return header[CORRELATION_HEADER] || (properties && properties.get(CORRELATION_PROPERTY)) || null;
}

/**
 * The draft's correlation id. The OnNewMessageCompose launch event stamps it; the pane waits a moment for
 * it, and stamps one itself on clients without launch events, so compose time always has a key.
 */
async function correlationOf(item) {
  for (let attempt = 0; attempt < 4; attempt += 1) {
    const id = await readCorrelation(item);
    if (id) return { id };
    await new Promise((resolve) => setTimeout(resolve, 750));
  }
  const id = newId();
  if (item.internetHeaders) {
    await optional(officeCall(item.internetHeaders, "setAsync", { [CORRELATION_HEADER]: id }), null);
  }
  const properties = await optional(officeCall(item, "loadCustomPropertiesAsync"), null);
  if (properties) {
    properties.set(CORRELATION_PROPERTY, id);
    properties.set(STARTED_PROPERTY, new Date().toISOString());
    await optional(officeCall(properties, "saveAsync"), null);
  }
  return { id };
}

function heartbeat(current, now = Date.now()) {
  const duration = Math.max(0, (now - current.openedAt) / 1000);
  const d = current.details;
  const common = {
    at: new Date(current.openedAt).toISOString(),
    duration_seconds: Math.round(duration * 1000) / 1000,
    subject: d.subject.slice(0, 1000),
    sender: d.sender,
    participants: d.participants.slice(0, 200),
    conversation_id: d.conversationId || null,
    body_chars: d.bodyChars,
  };
  const stamp = `${current.openedAt}-${Math.round(duration * 1000)}`;
  if (current.kind === "read") {
    return {
      id: `read-${current.eventId}-${stamp}`,
      type: "read",
      item_id: d.itemId,
      internet_message_id: d.internetMessageId,
      ...common,
    };
  }
  return { id: `write-${current.eventId}-${stamp}`, type: "compose", correlation_id: current.correlationId, ...common };
}

function recordSpan(now = Date.now()) {
  if (!pane.current) return;
  // One queued heartbeat per span: the latest covers everything since the item was opened.
  pane.queue.put(heartbeat(pane.current, now), `${pane.current.key}@${pane.current.openedAt}`);
}

async function itemChanged() {
  recordSpan();
  const item = Office.context.mailbox.item;
  pane.current = null;
  pane.suggestions = null;
  renderItem();
  const described = await optional(describe(item), null);
  if (!described) {
    show("item", false);
    show("no-item", Boolean(pane.call));
    void flush();
    return;
  }
  pane.current = { ...described, openedAt: Date.now() };
  recordSpan();
  renderItem();
  if (!pane.call) return;
  await Promise.all([flush(), suggest()]);
}

// ----------------------------------------------------------------------------------- server state

async function flush() {
  if (!pane.call) {
    renderQueue(null);
    return;
  }
  const outcome = await pane.queue.flush(pane.call);
  if (outcome.dropped.length) {
    showProblem(`${outcome.dropped.length} capture(s) were refused and dropped: ${outcome.dropped[0].reason}`);
  }
  if (outcome.problem && outcome.problem.status === 401) {
    forgetToken();
    pane.call = null;
    showSignedOut();
    showProblem(explain(outcome.problem, "sending your time"));
  }
  renderQueue(outcome.problem);
  if (outcome.sent) await refresh();
}

async function refresh() {
  if (!pane.call) return;
  try {
    pane.timeline = await pane.call("GET", "/timeline");
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 0)) showProblem(explain(error, "loading today"));
    return;
  }
  renderToday();
  renderItem();
}

async function suggest() {
  const current = pane.current;
  if (!current || !pane.call) return;
  const d = current.details;
  // The user's own address says nothing about the matter: leave it out, and in compose the counterparts
  // are the recipients, not the sender.
  const self = (Office.context.mailbox.userProfile.emailAddress || "").toLowerCase();
  const answer = await optional(
    pane.call("POST", "/suggestions", {
      item: {
        subject: d.subject.slice(0, 1000),
        body_preview: d.bodyPreview,
        sender: current.kind === "read" && d.sender !== self ? d.sender : "",
        participants: d.participants.filter((a) => a !== self).slice(0, 200),
        conversation_id: d.conversationId,
        kind: current.kind,
      },
    }),
    null,
  );
  if (pane.current !== current) return; // the user moved on while we asked
  pane.suggestions = answer;
  renderItem();
  renderManualMatters();
}

function eventOf(eventId) {
  return pane.timeline ? pane.timeline.events.find((e) => e.event_id === eventId) || null : null;
}

function entryOf(eventId) {
  return pane.timeline ? pane.timeline.entries.find((e) => e.event_ids.includes(eventId)) || null : null;
}

async function matterById(matterId) {
  pane.matters = pane.matters || new Map();
  if (!pane.matters.has(matterId)) {
    pane.matters.set(matterId, await optional(pane.call("GET", `/matters/${encodeURIComponent(matterId)}`), null));
  }
  return pane.matters.get(matterId);
}

/** Make sure the open item's event is on the server, then find the entry that bills it. */
async function currentEntry() {
  recordSpan();
  await flush();
  if (pane.queue.size) throw new ApiError(0, { detail: "offline" });
  await refresh();
  return entryOf(pane.current.eventId);
}

async function assign(matter, replaced) {
  const current = pane.current;
  await guarded("assigning the matter", async () => {
    let entry = await currentEntry();
    if (!entry) {
      const event = eventOf(current.eventId);
      const why = event ? event.reason || event.category : "it has not been captured yet";
      throw new Error(`this item is not billable time today (${why}).`);
    }
    try {
      await pane.call("PATCH", `/entries/${entry.entry_id}`, { matter_id: matter.matter_id, version: entry.version });
    } catch (error) {
      if (!(error instanceof ApiError && error.status === 409)) throw error;
      await refresh(); // the entry moved on (a heartbeat rebuilt the day): once more with its new version
      entry = entryOf(current.eventId);
      await pane.call("PATCH", `/entries/${entry.entry_id}`, { matter_id: matter.matter_id, version: entry.version });
    }
    if (replaced && replaced !== matter.matter_id) {
      // Teach the engine that its suggestion was corrected (assigning already teaches the choice).
      await optional(pane.call("POST", "/suggestions/feedback",
        { event_id: current.eventId, matter_id: matter.matter_id, replaced }), null);
    }
    pane.matters = pane.matters || new Map();
    pane.matters.set(matter.matter_id, matter);
    closeSearch();
    await refresh();
    $("change-matter").focus();
  });
}

async function setPersonal(personal) {
  const current = pane.current;
  await guarded("marking the item personal", async () => {
    await currentEntry();
    await pane.call("POST", `/events/${current.eventId}/personal`, { personal });
    await refresh();
  });
  renderItem();
}

// ----------------------------------------------------------------------------------- search

function openSearch() {
  show("suggested", false);
  show("assigned", false);
  show("search", true);
  $("search-box").value = "";
  $("search-results").replaceChildren();
  $("search-box").focus();
}

function closeSearch() {
  show("search", false);
  renderItem();
}

function searchTyped() {
  clearTimeout(pane.searchTimer);
  pane.searchTimer = setTimeout(runSearch, 250);
}

async function runSearch() {
  const text = $("search-box").value.trim();
  const results = $("search-results");
  if (text.length < 2) {
    results.replaceChildren();
    return;
  }
  // Matter numbers start with a digit; anything else is a name (both are prefix searches).
  const field = /^\d/.test(text) ? "number" : "name";
  const page = await guarded("searching matters", () =>
    pane.call("GET", `/matters?${field}=${encodeURIComponent(text)}&limit=20`));
  if (!page || $("search-box").value.trim() !== text) return;
  const items = page.items.map((matter) => {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "secondary";
    button.textContent = `${matter.number} ${matter.name}`;
    button.setAttribute("aria-label", `Assign to ${matter.number} ${matter.name}`);
    button.onclick = () => assign(matter, assignedMatterId() || topSuggestionId());
    li.append(button);
    return li;
  });
  if (!items.length) {
    const li = document.createElement("li");
    li.className = "muted small";
    li.textContent = `No open matter starts with "${text}".`;
    items.push(li);
  }
  results.replaceChildren(...items);
}

function assignedMatterId() {
  const entry = pane.current ? entryOf(pane.current.eventId) : null;
  return entry ? entry.matter_id : null;
}

function topSuggestionId() {
  const top = pane.suggestions && pane.suggestions.suggestions[0];
  return top ? top.matter_id : null;
}

// ----------------------------------------------------------------------------------- rendering

function renderItem() {
  const current = pane.current;
  show("item", Boolean(current) && Boolean(pane.call));
  show("no-item", !current && Boolean(pane.call));
  if (!current) return;
  const d = current.details;
  $("item-kind").textContent = current.kind === "read" ? "Reading" : "Writing";
  $("item-subject").textContent = d.subject || "(no subject)";
  $("item-people").textContent = current.kind === "read"
    ? `From ${d.sender || "unknown sender"}`
    : (d.participants.length ? `To ${d.participants.join(", ")}` : "No recipients yet");
  $("item-now-label").textContent = current.kind === "read" ? "Open now" : "Writing for";
  renderClock();

  const event = eventOf(current.eventId);
  const entry = entryOf(current.eventId);
  $("item-total").textContent = event ? formatDuration(event.seconds) : "-";
  $("personal").checked = Boolean(event && event.personal);
  $("personal").disabled = !pane.call;
  const correlation = $("correlation");
  correlation.hidden = current.kind !== "compose";
  correlation.textContent = current.kind === "compose" ? `Draft id ${current.correlationId}` : "";
  correlation.dataset.correlationId = current.correlationId || "";

  if (!$("search").hidden) return; // the user is choosing a matter: leave the search alone
  if (entry && entry.matter_id) {
    void renderAssigned(entry, event);
  } else {
    show("assigned", false);
    renderSuggestions();
  }
}

async function renderAssigned(entry, event) {
  show("suggested", false);
  show("assigned", true);
  const matter = await matterById(entry.matter_id);
  $("assigned-number").textContent = matter ? matter.number : "";
  $("assigned-name").textContent = matter ? matter.name : entry.matter_id;
  const why = event && event.assignment ? event.assignment : "";
  $("assigned-why").textContent = entry.status === "released"
    ? "Released to billing."
    : (why || "Assigned by you.");
  $("change-matter").disabled = entry.status !== "assigned" && entry.status !== "unassigned";
}

function renderSuggestions() {
  const answer = pane.suggestions;
  show("suggested", true);
  const list = $("suggestions");
  if (!answer) {
    $("suggest-explanation").textContent = pane.call ? "Looking for the matter..." : "";
    list.replaceChildren();
    return;
  }
  $("suggest-explanation").textContent = answer.suggestions.length
    ? (answer.decision === "abstain" ? `Not sure: ${answer.explanation.replace(/^not sure: /, "")}` : "")
    : "No matter found for this item. Choose one below.";
  list.replaceChildren(...answer.suggestions.slice(0, 3).map((s, index) => {
    const li = document.createElement("li");
    if (index === 0) li.className = "best";
    const head = document.createElement("div");
    head.className = "head";
    const name = document.createElement("span");
    name.className = "name";
    name.innerHTML = "";
    const number = document.createElement("span");
    number.className = "number";
    number.textContent = s.number;
    name.append(number, ` ${s.name}`);
    const confidence = document.createElement("span");
    confidence.className = "confidence";
    confidence.textContent = `${Math.round(s.confidence * 100)}%`;
    confidence.setAttribute("aria-label", `${Math.round(s.confidence * 100)} percent likely`);
    head.append(name, confidence);
    const reasons = document.createElement("ul");
    reasons.className = "reasons";
    reasons.setAttribute("aria-label", `Why ${s.number}`);
    for (const reason of s.reasons) {
      const item = document.createElement("li");
      item.textContent = reason;
      reasons.append(item);
    }
    const button = document.createElement("button");
    button.type = "button";
    button.className = index === 0 ? "primary" : "secondary";
    button.textContent = "Assign";
    button.setAttribute("aria-label", `Assign to ${s.number} ${s.name}`);
    button.onclick = () => assign(s, index === 0 ? null : topSuggestionId());
    li.append(head, reasons, button);
    return li;
  }));
}

function renderClock() {
  if (!pane.current) return;
  $("item-now").textContent = clock((Date.now() - pane.current.openedAt) / 1000);
}

function renderToday() {
  const timeline = pane.timeline;
  if (!timeline) return;
  const totals = timeline.totals;
  $("today-captured").textContent = formatDuration(totals.captured_seconds);
  $("today-unassigned").textContent = formatDuration(totals.unassigned_seconds);
  $("today-released").textContent = formatDuration(totals.released_seconds);
  const ready = timeline.entries.filter((e) => e.status === "assigned");
  const release = $("release");
  release.disabled = ready.length === 0;
  release.textContent = ready.length
    ? `Release ${ready.length} assigned ${ready.length === 1 ? "entry" : "entries"}`
    : "Nothing assigned to release";
}

function renderQueue(problem) {
  const waiting = pane.queue.size;
  const footer = $("queue");
  const pill = $("connection");
  footer.hidden = waiting === 0;
  if (waiting) {
    const why = problem && problem.status === 0
      ? "You're offline; they go as soon as you're back."
      : problem && problem.status === 401
        ? "Sign in to send them."
        : "They will be sent shortly.";
    footer.textContent = `${waiting} ${waiting === 1 ? "capture is" : "captures are"} waiting to send. ${why}`;
  }
  const offline = (problem && problem.status === 0) || !navigator.onLine;
  pill.className = `pill${offline ? " offline" : waiting ? " waiting" : ""}`;
  pill.textContent = !pane.call ? "Signed out" : offline ? "Offline" : waiting ? `${waiting} waiting` : "Up to date";
}

function renderManualMatters() {
  const select = $("manual-matter");
  const keep = select.value;
  const options = [new Option("Decide later", "")];
  const seen = new Set();
  const assigned = assignedMatterId();
  const candidates = [];
  if (assigned && pane.matters && pane.matters.get(assigned)) candidates.push(pane.matters.get(assigned));
  for (const s of (pane.suggestions && pane.suggestions.suggestions) || []) candidates.push(s);
  for (const m of candidates) {
    if (seen.has(m.matter_id)) continue;
    seen.add(m.matter_id);
    options.push(new Option(`${m.number} ${m.name}`, m.matter_id));
  }
  select.replaceChildren(...options);
  if (seen.has(keep)) select.value = keep;
}

// ----------------------------------------------------------------------------------- manual time and release

async function addManual(event) {
  event.preventDefault();
  const note = $("manual-note").value.trim();
  const minutes = Number($("manual-minutes").value);
  const status = $("manual-status");
  if (!note) {
    status.textContent = "Say what you did, e.g. \"Reviewed the production, box 3\".";
    $("manual-note").focus();
    return;
  }
  if (!Number.isFinite(minutes) || minutes < 1 || minutes > 1440) {
    status.textContent = "Minutes must be a whole number from 1 to 1440.";
    $("manual-minutes").focus();
    return;
  }
  const id = `manual-${newId()}`;
  const now = Date.now();
  pane.queue.put({
    id,
    type: "manual",
    at: new Date(now - minutes * 60_000).toISOString(),
    duration_seconds: minutes * 60,
    note,
    subject: note.slice(0, 200),
  });
  const matterId = $("manual-matter").value;
  $("manual-form").reset();
  renderManualMatters();
  await flush();
  if (pane.queue.size) {
    status.textContent = `Saved ${minutes} min. It will be sent when you're back online.`;
    return;
  }
  status.textContent = `Added ${minutes} min: ${note}.`;
  if (matterId) {
    const entry = entryOf(await eventIdFor(`manual:${id}`));
    if (entry) {
      await guarded("assigning the manual time", () =>
        pane.call("PATCH", `/entries/${entry.entry_id}`, { matter_id: matterId, version: entry.version }));
      await refresh();
    }
  }
}

async function releaseAssigned() {
  const ready = (pane.timeline ? pane.timeline.entries : []).filter((e) => e.status === "assigned");
  if (!ready.length) return;
  const status = $("release-status");
  const answer = await guarded("releasing your time", () =>
    pane.call("POST", "/entries/bulk", { entry_ids: ready.map((e) => e.entry_id), action: "release" }));
  if (!answer) return;
  const failed = answer.results.filter((r) => !r.ok);
  status.textContent = failed.length
    ? `Released ${answer.results.length - failed.length}; ${failed.length} could not be: ${failed[0].error}`
    : `Released ${answer.results.length} ${answer.results.length === 1 ? "entry" : "entries"} to billing.`;
  await refresh();
}

// ----------------------------------------------------------------------------------- start

/** A draft changes as it is written: pick up its subject and recipients (and ask again for the matter). */
async function refreshDraft() {
  const current = pane.current;
  const item = Office.context.mailbox.item;
  if (!current || current.kind !== "compose" || !item) return;
  const [subject, to, cc] = await Promise.all([
    optional(officeCall(item.subject, "getAsync"), current.details.subject),
    optional(officeCall(item.to, "getAsync"), null),
    optional(officeCall(item.cc, "getAsync"), null),
  ]);
  if (pane.current !== current) return;
  const participants = to && cc ? [...addresses(to), ...addresses(cc)] : current.details.participants;
  const changed = subject !== current.details.subject
    || participants.join(",") !== current.details.participants.join(",");
  if (!changed) return;
  current.details = { ...current.details, subject: subject || "", participants };
  renderItem();
  await suggest();
}

async function tick() {
  if (pane.current && document.visibilityState === "visible") {
    await refreshDraft();
    recordSpan();
    await flush();
  }
}

async function start() {
  await Office.onReady();
  pane.config = await (await fetch(new URL("../config.json", window.location.href))).json();
  // The launch-event runtime of classic Outlook cannot fetch config.json: it reads the API's address here.
  const roaming = Office.context.roamingSettings;
  if (roaming && roaming.get("apiBaseUrl") !== pane.config.apiBaseUrl) {
    roaming.set("apiBaseUrl", pane.config.apiBaseUrl);
    roaming.saveAsync(() => {});
  }

  $("sign-in").onclick = signInClicked;
  $("change-matter").onclick = openSearch;
  $("search-instead").onclick = openSearch;
  $("search-cancel").onclick = closeSearch;
  $("search-box").addEventListener("input", searchTyped);
  $("search-box").addEventListener("keydown", (e) => { if (e.key === "Escape") closeSearch(); });
  $("personal").addEventListener("change", (e) => setPersonal(e.target.checked));
  $("manual-form").addEventListener("submit", addManual);
  $("release").onclick = releaseAssigned;
  pane.queue.onChange(() => renderQueue(null));
  window.addEventListener("online", () => void flush());
  window.addEventListener("offline", () => renderQueue(new ApiError(0, {})));
  window.addEventListener("pagehide", () => recordSpan());

  Office.context.mailbox.addHandlerAsync(Office.EventType.ItemChanged, () => void itemChanged());
  setInterval(() => void tick(), HEARTBEAT_MS);
  setInterval(() => { if (pane.queue.size) void flush(); }, RETRY_MS);
  setInterval(renderClock, 1000);

  if (!(await connect(false))) {
    showSignedOut();
    renderQueue(null);
  }
  await itemChanged();
  await flush();
  await refresh();
}

start().catch((error) => {
  showProblem(`The add-in could not start: ${error.message}. Close and reopen the pane.`);
});
