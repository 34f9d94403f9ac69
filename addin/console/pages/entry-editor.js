// The entry editor (matter with suggestions, activity, narrative, adjustments), splitting across matters,
// and the small forms of bulk changes. Each resolves with a sentence saying what was done, or null.
import { matterById, matterLabel, matterPicker } from "../matters.js";
import { busy, dialog, explain, field, h, hours, minutes, select } from "../util.js";

let activityTypes = null;

async function loadActivityTypes(call) {
  if (!activityTypes) activityTypes = call("GET", "/activity-types").catch(() => []);
  return activityTypes;
}

function activitySelect(types, value, id) {
  return select([["", "No activity type"], ...types.map((t) => [t.code, `${t.name}${t.utbms_activity ? ` (${t.utbms_activity})` : ""}${t.billable ? "" : " · non-billable"}`])],
    value || "", { id });
}

/** Edit one entry. `canWrite` false shows the details read-only (a view-only delegate). */
export async function openEditor({ session, call, entry, events, acting, canWrite }) {
  const types = await loadActivityTypes(session.call);
  const current = await matterById(session.call, entry.matter_id);
  let pickedMatter = current;
  const problem = h("div", { class: "error", role: "alert", hidden: true });
  const sources = entry.event_ids.map((id) => events.get(id)).filter(Boolean);
  const picker = matterPicker(session.call, { label: "Matter", onPick: (m) => { pickedMatter = m; } });
  if (current) picker.input.value = current.number;
  const activity = activitySelect(types, entry.activity_code, "ed-activity");
  const narrative = h("textarea", { id: "ed-narrative", rows: 3, maxlength: 4000 }, entry.narrative);
  const prep = h("input", { type: "number", id: "ed-prep", min: 0, max: 1440, value: String(Math.round(entry.prep_seconds / 60)) });
  const post = h("input", { type: "number", id: "ed-post", min: 0, max: 1440, value: String(Math.round(entry.post_seconds / 60)) });
  const billable = h("input", { type: "checkbox", id: "ed-billable", checked: entry.billable });
  const suggestionList = h("ul", { class: "suggestions", "aria-label": "Suggested matters" });
  const suggestionNote = h("p", { class: "muted" }, acting ? "" : "Looking for suggestions…");
  const body = h("div", { class: "editor" },
    problem,
    h("dl", { class: "facts" },
      h("dt", {}, "Time"), h("dd", {}, `${hours(entry.billed_seconds)} h billed (${minutes(entry.raw_seconds)} raw, ${entry.rounding_rule})`),
      h("dt", {}, "Status"), h("dd", {}, entry.status),
      h("dt", {}, "From"), h("dd", {}, sources.length ? sources.map((e) => h("div", {}, `${e.kind}: ${e.subject || "(no subject)"}`)) : "—")),
    canWrite ? [
      // Suggestions learn from the owner's own choices, so a delegate picks the matter by search.
      acting ? null : h("div", { class: "suggest-block" }, h("h3", {}, "Suggested matters"), suggestionNote, suggestionList),
      picker.node,
      field("Activity type", activity),
      field("Narrative", narrative, "What was done, as the client will read it on the bill."),
      h("div", { class: "row" }, field("Preparation (minutes)", prep), field("Post-processing (minutes)", post)),
      h("label", { class: "check" }, billable, " Billable"),
    ] : h("p", {}, h("strong", {}, "Matter: "), matterLabel(current) || "none", h("br"), h("strong", {}, "Narrative: "), entry.narrative),
  );
  if (canWrite && !acting && entry.event_ids.length) {
    // Suggestions rank matters for the entry's first item and say why.
    session.call("POST", "/suggestions", { event_id: entry.event_ids[0] }).then((answer) => {
      suggestionNote.textContent = answer.suggestions.length ? answer.explanation : "No suggestion: search for the matter below.";
      suggestionList.replaceChildren(...answer.suggestions.map((s) => h("li", {},
        h("button", { type: "button", class: "secondary suggestion", onclick: () => {
          pickedMatter = { matter_id: s.matter_id, number: s.number, name: s.name };
          picker.input.value = s.number;
          picker.node.querySelector(".picked").textContent = `Chosen: ${s.number} ${s.name}`;
        } }, `${s.number} ${s.name}`),
        h("span", { class: "muted" }, ` ${Math.round(s.confidence * 100)}% · ${s.reasons.join("; ")}`))));
    }).catch(() => { suggestionNote.textContent = "Suggestions are unavailable: search for the matter below."; });
  }
  return new Promise((resolve) => {
    const save = h("button", { type: "button" }, "Save");
    const saveRelease = h("button", { type: "button" }, "Save and release");
    const cancel = h("button", { type: "button", class: "secondary" }, canWrite ? "Cancel" : "Close");
    const box = dialog(`Entry ${entry.day}`, body, canWrite ? [save, saveRelease, cancel] : [cancel]);
    cancel.onclick = () => { box.close(); resolve(null); };
    box.node.addEventListener("cancel", () => resolve(null));
    async function submit(button, release) {
      problem.hidden = true;
      const changes = { version: entry.version };
      if (pickedMatter && pickedMatter.matter_id !== entry.matter_id) changes.matter_id = pickedMatter.matter_id;
      if (activity.value !== (entry.activity_code || "") && activity.value) changes.activity_code = activity.value;
      if (narrative.value.trim() && narrative.value.trim() !== entry.narrative) changes.narrative = narrative.value.trim();
      const prepSeconds = Math.max(0, Number(prep.value || 0)) * 60;
      const postSeconds = Math.max(0, Number(post.value || 0)) * 60;
      if (prepSeconds !== entry.prep_seconds) changes.prep_seconds = prepSeconds;
      if (postSeconds !== entry.post_seconds) changes.post_seconds = postSeconds;
      if (billable.checked !== entry.billable) changes.billable = billable.checked;
      try {
        await busy(button, async () => {
          let saved = entry;
          if (Object.keys(changes).length > 1) saved = await call("PATCH", `/entries/${entry.entry_id}`, changes);
          if (release) saved = await call("POST", `/entries/${saved.entry_id}/release`, { version: saved.version });
        }, "Saving…");
        box.close();
        resolve(release ? "Entry saved and released to billing." : "Entry saved.");
      } catch (error) {
        problem.textContent = explain(error);
        problem.hidden = false;
        problem.focus?.();
      }
    }
    save.onclick = () => submit(save, false);
    saveRelease.onclick = () => submit(saveRelease, true);
    (canWrite ? picker.input : cancel).focus();
  });
}

/** Split an entry across two or more matters, equally or each billed in full. */
export async function openSplit({ call, entry }) {
  const chosen = [];
  const problem = h("div", { class: "error", role: "alert", hidden: true });
  const list = h("ul", { class: "chips", "aria-label": "Matters to split across", "aria-live": "polite" });
  const drawChosen = () => list.replaceChildren(...chosen.map((m, i) => h("li", { class: "chip" }, `${m.number} ${m.name} `,
    h("button", { type: "button", class: "link", "aria-label": `Remove ${m.number}`, onclick: () => { chosen.splice(i, 1); drawChosen(); } }, "✕"))));
  const matterSession = call; // matter search is firm-wide and needs no user_id
  const picker = matterPicker(matterSession, { label: "Add a matter", onPick: (m) => {
    if (!chosen.some((c) => c.matter_id === m.matter_id)) chosen.push(m);
    picker.input.value = "";
    drawChosen();
  } });
  const mode = select([["equal", "Share the time equally"], ["full", "Bill each matter the full time"]], "equal", { id: "split-mode" });
  const body = h("div", {}, problem, h("p", {}, `${entry.narrative} · ${hours(entry.billed_seconds)} h`), picker.node, list, field("How", mode));
  return new Promise((resolve) => {
    const ok = h("button", { type: "button" }, "Split");
    const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
    const box = dialog("Split entry", body, [ok, cancel]);
    cancel.onclick = () => { box.close(); resolve(null); };
    box.node.addEventListener("cancel", () => resolve(null));
    ok.onclick = async () => {
      if (chosen.length < 2) {
        problem.textContent = "Choose at least two matters to split across.";
        problem.hidden = false;
        return;
      }
      try {
        await busy(ok, () => call("POST", `/entries/${entry.entry_id}/split`, {
          version: entry.version, matters: chosen.map((m) => m.matter_id), mode: mode.value }));
        box.close();
        resolve(`Entry split across ${chosen.length} matters.`);
      } catch (error) {
        problem.textContent = explain(error);
        problem.hidden = false;
      }
    };
    picker.input.focus();
  });
}

/** Ask for the one change a bulk action applies: a matter, or an activity type. Resolves with `changes`. */
export async function openBulkChanges({ session, kind, count }) {
  let picked = null;
  let control;
  if (kind === "assign") {
    control = matterPicker(session.call, { label: "Matter", onPick: (m) => { picked = m; } });
  } else {
    const types = await loadActivityTypes(session.call);
    control = { node: field("Activity type", activitySelect(types, "", "bulk-activity")) };
  }
  const problem = h("div", { class: "error", role: "alert", hidden: true });
  return new Promise((resolve) => {
    const ok = h("button", { type: "button" }, `Apply to ${count}`);
    const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
    const box = dialog(kind === "assign" ? "Assign a matter" : "Set the activity type", h("div", {}, problem, control.node), [ok, cancel]);
    cancel.onclick = () => { box.close(); resolve(null); };
    box.node.addEventListener("cancel", () => resolve(null));
    ok.onclick = () => {
      const changes = kind === "assign"
        ? (picked ? { matter_id: picked.matter_id } : null)
        : (box.node.querySelector("#bulk-activity").value ? { activity_code: box.node.querySelector("#bulk-activity").value } : null);
      if (!changes) {
        problem.textContent = kind === "assign" ? "Choose a matter from the list first." : "Choose an activity type first.";
        problem.hidden = false;
        return;
      }
      box.close();
      resolve(changes);
    };
    (control.input || box.node.querySelector("select")).focus();
  });
}
