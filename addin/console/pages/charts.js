// Charts of my time (or of the person I act for): hours by matter, and by day captured against released.
// Chart.js comes from npm (package.json at the root; `make` copies its UMD build to addin/vendor/) and is
// loaded only when this page opens. Each chart has its numbers as a table too, for screen readers.
import { query } from "../../shared/api.js";
import { matterLabel, resolveMatters } from "../matters.js";
import { addDays, card, dayLabel, daysBetween, explain, field, h, hours, isoDay, mondayOf, select, table } from "../util.js";

let chartLibrary = null;

function loadChartLibrary() {
  if (window.Chart) return Promise.resolve(window.Chart);
  chartLibrary ||= new Promise((resolve, reject) => {
    const script = h("script", { src: "../vendor/chart.umd.min.js" });
    script.onload = () => resolve(window.Chart);
    script.onerror = () => reject(new Error("The charting library is missing: run `make run` (it installs it with npm ci)."));
    document.head.append(script);
  });
  return chartLibrary;
}

const RELEASED = new Set(["released", "exported", "posted"]);

export async function render(ctx, root) {
  const { session } = ctx;
  const start = ctx.params.start || mondayOf(isoDay(new Date()));
  const end = ctx.params.end || addDays(start, 6);
  const userId = ctx.params.user_id || "";
  const first = h("input", { type: "date", id: "charts-start", value: start });
  const last = h("input", { type: "date", id: "charts-end", value: end });
  const whose = session.actingFor.length ? select([["", "Mine"], ...session.actingFor.map((p) => [p.user_id, p.display_name])], userId, { id: "charts-whose" }) : null;
  const show = h("button", { type: "button" }, "Show");
  show.onclick = () => ctx.navigate("charts", { start: first.value, end: last.value, user_id: whose?.value || "" });
  root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Charts")),
    card("Period", h("div", { class: "toolbar" }, field("From", first), field("To", last), whose ? field("Whose time", whose) : null, show)));

  const [Chart, view] = await Promise.all([
    loadChartLibrary(),
    session.call("GET", `/timeline${query({ start, end, user_id: userId })}`),
  ]).catch((error) => { ctx.problem(explain(error)); return [null, null]; });
  if (!Chart || !view) return;
  const { matters } = await resolveMatters(session.call, view.entries.map((e) => e.matter_id));

  const byMatter = new Map();
  for (const entry of view.entries) {
    const label = matterLabel(matters.get(entry.matter_id)) || "No matter yet";
    byMatter.set(label, (byMatter.get(label) || 0) + entry.billed_seconds);
  }
  const matterRows = [...byMatter].sort((a, b) => b[1] - a[1]);
  const days = daysBetween(view.start, view.end);
  const captured = new Map(days.map((d) => [d, 0]));
  const released = new Map(days.map((d) => [d, 0]));
  const dayOfEvent = (iso) => new Intl.DateTimeFormat("en-CA", { timeZone: view.time_zone }).format(new Date(iso));
  for (const event of view.events) {
    if (event.category !== "business" && event.category !== "memo") continue;
    const day = dayOfEvent(event.start);
    if (captured.has(day)) captured.set(day, captured.get(day) + event.seconds);
  }
  for (const entry of view.entries) if (RELEASED.has(entry.status) && released.has(entry.day)) released.set(entry.day, released.get(entry.day) + entry.billed_seconds);

  const matterCanvas = h("canvas", { id: "chart-matters", role: "img", "aria-label": `Hours by matter, ${view.start} to ${view.end}` });
  const dayCanvas = h("canvas", { id: "chart-days", role: "img", "aria-label": `Hours captured and released by day, ${view.start} to ${view.end}` });
  root.append(h("div", { class: "grid-2" },
    card("Hours by matter", h("div", { class: "chart-box" }, matterCanvas),
      h("details", {}, h("summary", {}, "As a table"), table("Hours by matter", ["Matter", "Hours"], matterRows.map(([m, s]) => [m, hours(s)])))),
    card("Captured and released by day", h("div", { class: "chart-box" }, dayCanvas),
      h("details", {}, h("summary", {}, "As a table"), table("Hours by day", ["Day", "Captured", "Released"],
        days.map((d) => [dayLabel(d), hours(captured.get(d)), hours(released.get(d))]))))));
  const common = { responsive: true, maintainAspectRatio: false, animation: false };
  new Chart(matterCanvas, {
    type: "bar",
    data: { labels: matterRows.map(([m]) => (m.length > 32 ? `${m.slice(0, 31)}…` : m)),
      datasets: [{ label: "Hours", data: matterRows.map(([, s]) => +(s / 3600).toFixed(2)), backgroundColor: "#0f5c8c" }] },
    options: { ...common, indexAxis: "y", plugins: { legend: { display: false } } },
  });
  new Chart(dayCanvas, {
    type: "bar",
    data: { labels: days.map(dayLabel), datasets: [
      { label: "Captured", data: days.map((d) => +(captured.get(d) / 3600).toFixed(2)), backgroundColor: "#8fb8d6" },
      { label: "Released", data: days.map((d) => +(released.get(d) / 3600).toFixed(2)), backgroundColor: "#107c10" }] },
    options: { ...common, scales: { y: { beginAtZero: true, title: { display: true, text: "Hours" } } } },
  });
  root.dataset.charts = "ready";
}
