// My preferences: how often my time report email comes, at what hour, and my time zone.
import { ApiError } from "../../shared/api.js";
import { busy, card, explain, field, h, select, statusLine } from "../util.js";

const FREQUENCIES = [["off", "Never"], ["daily", "Every working day"], ["weekly", "Every week"], ["monthly", "Every month"]];

export async function render(ctx, root) {
  const { session } = ctx;
  root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Preferences")));
  let current;
  try {
    current = await session.call("GET", "/me/preferences");
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 403)) {
      root.append(card("Report emails", h("p", {}, "Preferences cannot be changed here yet: this Matterline server does not offer them. Ask your firm admin.")));
      return;
    }
    throw error;
  }
  const zones = Intl.supportedValuesOf?.("timeZone") || [current.time_zone];
  const frequency = select(FREQUENCIES, current.report_frequency, { id: "pref-frequency" });
  const hour = select([...Array(24).keys()].map((n) => [n, `${String(n).padStart(2, "0")}:00`]), current.report_hour, { id: "pref-hour" });
  const zone = select(zones.map((z) => [z, z.replace(/_/g, " ")]), current.time_zone, { id: "pref-zone" });
  if (!zones.includes(current.time_zone)) zone.prepend(h("option", { value: current.time_zone, selected: true }, current.time_zone));
  const save = h("button", { type: "submit" }, "Save preferences");
  const status = statusLine({ id: "pref-status" });
  const form = h("form", {}, field("Time report email", frequency), field("Sent at", hour, "In your time zone."),
    field("Time zone", zone, "Your days and reports follow this zone."), save, status);
  form.onsubmit = async (event) => {
    event.preventDefault();
    const body = { report_frequency: frequency.value, report_hour: Number(hour.value), time_zone: zone.value };
    if (current.version !== undefined) body.version = current.version; // sent back when the API versions it
    try {
      current = await busy(save, () => session.call("PUT", "/me/preferences", body));
      status.textContent = "Saved.";
    } catch (error) { status.textContent = ""; ctx.problem(explain(error)); }
  };
  root.append(card("Report emails and time zone", form));
}
