// Capture rules and policy: how items group into entries, rounding, reading and typing speeds, the firm's
// own domains, filter rules (always personal / memo / filtered for a sender or domain), matter patterns.
import { busy, card, explain, field, h, select, statusLine, table } from "../util.js";

const GROUPING = [["per_event", "One entry per item"], ["per_thread_day", "One entry per thread per day"], ["per_matter_day", "One entry per matter per day"]];
const CATEGORIES = [["personal", "Personal"], ["memo", "Memo (not billed)"], ["filtered", "Filtered out"], ["business", "Business"]];

export async function render(ctx, root) {
  const { session } = ctx;
  let policy = await session.call("GET", "/capture/policy");
  const status = statusLine({ id: "rules-status" });
  const grouping = select(GROUPING, policy.grouping, { id: "policy-grouping" });
  const increment = h("input", { type: "number", id: "policy-increment", min: 1, max: 60, value: String(policy.increment_seconds / 60) });
  const pulse = h("input", { type: "number", id: "policy-pulse", min: 5, max: 900, value: String(policy.pulse_seconds) });
  const reading = h("input", { type: "number", id: "policy-reading", min: 50, max: 1000, value: String(policy.reading_words_per_minute) });
  const typing = h("input", { type: "number", id: "policy-typing", min: 5, max: 200, value: String(policy.typing_words_per_minute) });
  const autoAssign = h("input", { type: "number", id: "policy-auto", min: 0.51, max: 1, step: 0.01, value: String(policy.auto_assign_at) });
  const closed = h("input", { type: "checkbox", id: "policy-closed", checked: policy.show_closed_cases });
  const domains = h("input", { id: "policy-domains", value: policy.firm_domains.join(", ") });
  const patterns = h("textarea", { id: "policy-patterns", rows: 2, spellcheck: "false" }, policy.matter_number_patterns.join("\n"));
  let rules = [...policy.rules];
  const rulesHost = h("div", { id: "rules-table" });
  const drawRules = () => rulesHost.replaceChildren(rules.length ? table("!Filter rules", ["Applies to", "Address or domain", "Counts as", ""],
    rules.map((r, i) => [r.scope, r.value, r.category, h("button", { type: "button", class: "link", "aria-label": `Remove rule for ${r.value}`,
      onclick: () => { rules.splice(i, 1); drawRules(); } }, "Remove")])) : h("p", { class: "muted" }, "No filter rule."));
  drawRules();
  const scope = select([["domain", "Domain"], ["sender", "Sender"]], "domain", { id: "rule-scope" });
  const value = h("input", { id: "rule-value", placeholder: "news.example.com or someone@example.com" });
  const category = select(CATEGORIES, "filtered", { id: "rule-category" });
  const add = h("button", { type: "button", class: "secondary", onclick: () => {
    if (value.value.trim().length < 3) { ctx.problem("Give the address or domain the rule applies to (3 characters or more)."); return; }
    rules.push({ scope: scope.value, value: value.value.trim().toLowerCase(), category: category.value });
    value.value = "";
    drawRules();
  } }, "Add rule");
  const save = h("button", { type: "submit" }, "Save policy");
  const form = h("form", {},
    h("div", { class: "row" }, field("Grouping", grouping), field("Rounding (minutes, always up)", increment), field("Auto-assign at confidence", autoAssign)),
    h("div", { class: "row" }, field("Reading pulse (seconds)", pulse), field("Reading speed (words/min)", reading), field("Typing speed (words/min)", typing)),
    field("Firm domains", domains, "Mail only among these domains is internal."),
    field("Matter number patterns", patterns, "One regular expression per line, e.g. \\b20\\d\\d-\\d{4}\\b"),
    h("label", { class: "check" }, closed, " Offer closed matters too"),
    h("h3", {}, "Filter rules"), rulesHost, h("div", { class: "toolbar" }, field("Applies to", scope), field("Address or domain", value), field("Counts as", category), add),
    save, status);
  form.onsubmit = async (event) => {
    event.preventDefault();
    const body = {
      version: policy.version, grouping: grouping.value, increment_seconds: Math.round(Number(increment.value) * 60),
      pulse_seconds: Number(pulse.value), reading_words_per_minute: Number(reading.value), typing_words_per_minute: Number(typing.value),
      templates: policy.templates, firm_domains: domains.value.split(",").map((d) => d.trim()).filter(Boolean), rules,
      auto_assign_at: Number(autoAssign.value), show_closed_cases: closed.checked,
      matter_number_patterns: patterns.value.split("\n").map((p) => p.trim()).filter(Boolean),
    };
    try {
      policy = await busy(save, () => session.call("PUT", "/capture/policy", body));
      rules = [...policy.rules];
      status.textContent = "Saved: new captures follow it; days rebuild as they change.";
    } catch (error) { status.textContent = ""; ctx.problem(explain(error)); }
  };
  root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Capture rules")), card("Firm capture policy", form));
}
