// The console's shell: sign-in, the session (who I am, what I may do, whom I act for), navigation by
// permission, and hash routes (#page?key=value) that emails and bookmarks can deep-link to.
import { apiClient, ApiError } from "../shared/api.js";
import { completeSignIn, currentToken, signIn, signOut, takeReturnTo } from "../shared/auth.js";
import { h } from "./util.js";
import { PERM as CONTRACTOR_PERM, contractorAccess } from "./pages/contractor-common.js";

const $ = (id) => document.getElementById(id);

// Every page: where it sits in the navigation, who sees it, and its module (loaded when first opened).
const PAGES = [
  { id: "timeline", title: "Timeline", group: "My time", load: () => import("./pages/timeline.js"),
    allowed: (s) => s.can("time:read-own") || s.actingFor.length > 0 },
  { id: "charts", title: "Charts", group: "My time", load: () => import("./pages/charts.js"),
    allowed: (s) => s.can("time:read-own") || s.actingFor.length > 0 },
  { id: "preferences", title: "Preferences", group: "My time", load: () => import("./pages/preferences.js"),
    allowed: (s) => s.kind === "user" },
  { id: "delegates", title: "Delegates", group: "My time", load: () => import("./pages/delegates.js"),
    allowed: (s) => s.can("time:read-own") || s.actingFor.length > 0 },
  { id: "roster", title: "People", group: "Firm", load: () => import("./pages/roster.js"),
    allowed: (s) => s.can("roster:read") },
  { id: "directory", title: "Clients & matters", group: "Firm", load: () => import("./pages/directory.js"),
    allowed: (s) => s.can("matters:read") && (s.can("matters:write") || s.can("roster:read")) },
  { id: "rules", title: "Capture rules", group: "Firm", load: () => import("./pages/rules.js"),
    allowed: (s) => s.can("roster:write") },
  { id: "connections", title: "Connections", group: "Firm", load: () => import("./pages/connections.js"),
    allowed: (s) => s.can("billing:connect") },
  { id: "exports", title: "Exports", group: "Billing", load: () => import("./pages/exports.js"),
    allowed: (s) => s.can("billing:export") },
  { id: "activity", title: "Activity report", group: "Billing", load: () => import("./pages/activity.js"),
    allowed: (s) => s.can("roster:read") },
  { id: "audit", title: "Audit log", group: "Firm", load: () => import("./pages/audit.js"),
    allowed: (s) => s.can("audit:read") },
  { id: "tokens", title: "API tokens", group: "Firm", load: () => import("./pages/tokens.js"),
    allowed: (s) => s.can("tokens:manage") },
  { id: "outbox", title: "Outbox (devstack)", group: "Devstack", load: () => import("./pages/outbox.js"),
    allowed: (s) => s.devstackOutbox },
  // Contractor module pages, in the group "Contractor work": each shows only to people whose contractor
  // permissions allow it (contractorAccess reads them from /me; roles only if /me lacks them).
  { id: "contractor-work-orders", title: "Work orders", group: "Contractor work",
    load: () => import("./pages/contractor-work-orders.js"),
    allowed: (s) => contractorAccess(s).can(CONTRACTOR_PERM.workOrders) },
  { id: "contractor-invoices", title: "Invoices", group: "Contractor work",
    load: () => import("./pages/contractor-invoices.js"),
    allowed: (s) => contractorAccess(s).can(CONTRACTOR_PERM.invoices) },
  { id: "contractor-setup", title: "Contractor setup", group: "Contractor work",
    load: () => import("./pages/contractor-setup.js"),
    allowed: (s) => contractorAccess(s).isStaff },
];

function hasContractorPermission(session) {
  return contractorAccess(session).any;
}

/** `#timeline?start=2026-12-01&status=assigned` → { page: "timeline", params: {start, status} }. */
export function parseHash(hash = window.location.hash) {
  const text = hash.replace(/^#/, "");
  const [page, search = ""] = text.split("?");
  return { page: page || "", params: Object.fromEntries(new URLSearchParams(search)) };
}

export function hashFor(page, params = {}) {
  const pairs = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return `#${page}${pairs.length ? `?${new URLSearchParams(pairs)}` : ""}`;
}

function showProblem(message) {
  $("problem").textContent = message;
  $("problem").hidden = !message;
}

async function probe(url) {
  try {
    const response = await fetch(url, { method: "GET" });
    return response.ok;
  } catch {
    return false;
  }
}

async function buildSession(config, token) {
  const call = apiClient(config.apiBaseUrl, token);
  const me = await call("GET", "/me");
  let actingFor = [];
  try {
    actingFor = (await call("GET", "/me/delegates")).acting_for;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error; // an older API without delegates: nobody to act for
  }
  const permissions = me.permissions;
  return {
    config,
    call,
    me,
    kind: "user",
    permissions,
    roles: me.user.roles,
    actingFor,
    devstackOutbox: await probe("/devstack/outbox.json"),
    can: (permission) => permissions.includes(permission),
  };
}

function buildNav(session, pages) {
  const nav = $("nav");
  const groups = new Map();
  for (const page of pages) {
    if (!groups.has(page.group)) groups.set(page.group, []);
    groups.get(page.group).push(page);
  }
  if (hasContractorPermission(session) && !groups.has("Contractor work")) {
    // The contractor module's place: its pages fill it once they exist.
    groups.set("Contractor work", []);
  }
  nav.replaceChildren(
    ...[...groups].map(([group, members]) =>
      h("div", { class: "nav-group", dataset: { group } },
        h("h2", {}, group),
        members.length
          ? h("ul", {}, members.map((p) => h("li", {}, h("a", { href: `#${p.id}`, dataset: { page: p.id } }, p.title))))
          : h("p", { class: "muted" }, "Coming soon."))),
  );
  nav.hidden = false;
}

function markCurrent(pageId) {
  for (const link of document.querySelectorAll("#nav a[data-page]")) {
    if (link.dataset.page === pageId) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function landingPage(session, pages) {
  // Admins start at their roster, everyone else at their own day.
  const preferred = session.can("roster:write") ? "roster" : "timeline";
  // Contractors and contractor staff, who keep no timeline, start at the invoice queue.
  return pages.find((p) => p.id === preferred) || pages.find((p) => p.id === "contractor-invoices") || pages[0];
}

function startRouter(session, pages) {
  let rendering = 0;
  let unavailable = ""; // why the last address was turned away, shown on the page it landed on
  async function render(moveFocus) {
    const { page: pageId, params } = parseHash();
    const page = pages.find((p) => p.id === pageId);
    if (!page) {
      // A page this person may not open (an old link, a delegation taken back): say so where they land.
      const known = PAGES.find((p) => p.id === pageId);
      if (known) {
        unavailable = pageId === "timeline" && params.user_id
          ? "You cannot open that person's timeline: they have not made you their delegate."
          : `${known.title} is not available to you. Ask a firm admin if you need it.`;
      }
      window.location.replace(hashFor(landingPage(session, pages).id));
      return;
    }
    const turn = ++rendering;
    markCurrent(page.id);
    showProblem(unavailable);
    unavailable = "";
    document.title = `${page.title} · Matterline`;
    $("nav").classList.remove("open");
    $("menu").setAttribute("aria-expanded", "false");
    const view = $("view");
    const module = await page.load();
    if (turn !== rendering) return; // the person moved on while the module loaded
    const container = h("div", { class: "page", dataset: { page: page.id } });
    view.replaceChildren(container);
    const ctx = {
      session,
      params,
      problem: showProblem,
      // Keep the address in step with what the page shows, without re-rendering it.
      setParams(next) {
        history.replaceState(null, "", hashFor(page.id, next));
      },
      navigate(id, next = {}) {
        window.location.hash = hashFor(id, next);
      },
      isCurrent: () => turn === rendering,
    };
    try {
      await module.render(ctx, container);
      container.dataset.ready = "true"; // the page has drawn what it loaded (tests and support wait on it)
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return sessionEnded();
      showProblem(error.message || String(error));
    }
    // After following a link, focus goes to the new page's heading, as a page load would put it.
    const heading = container.querySelector("h1");
    if (heading && moveFocus) heading.focus({ preventScroll: true });
  }
  window.addEventListener("hashchange", () => render(true));
  return render(false);
}

function sessionEnded() {
  signOut();
  $("view").replaceChildren();
  $("nav").hidden = true;
  $("signed-out").hidden = false;
  showProblem("Your session has ended or your account is not in this firm's roster. Sign in again.");
}

function wireChrome(config) {
  $("sign-in").onclick = () => signIn(config, window.location.hash);
  $("sign-out").onclick = () => { signOut(); window.location.assign(config.redirectUri); };
  $("skip").onclick = (event) => { event.preventDefault(); $("main").focus(); };
  $("menu").onclick = () => {
    const open = $("nav").classList.toggle("open");
    $("menu").setAttribute("aria-expanded", String(open));
  };
}

async function start() {
  const config = await (await fetch("/config.json")).json();
  wireChrome(config);
  let token = currentToken();
  try {
    const fresh = await completeSignIn(config);
    if (fresh) {
      token = fresh;
      const back = takeReturnTo();
      if (back) history.replaceState(null, "", `${config.redirectUri}${back}`);
    }
  } catch (error) {
    showProblem(error.message);
  }
  if (!token) {
    $("signed-out").hidden = false;
    return;
  }
  let session;
  try {
    session = await buildSession(config, token);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return sessionEnded();
    showProblem(`${error.message} Reload the page to try again.`);
    return;
  }
  $("who").textContent = `${session.me.user.display_name} · ${session.me.firm.name}`;
  $("sign-out").hidden = false;
  $("menu").hidden = false;
  const pages = PAGES.filter((p) => p.allowed(session));
  buildNav(session, pages);
  window.matterline = { pages: pages.map((p) => p.id) }; // what this person sees: for tests and support
  // A notification above every page when my firm posts to a billing system my own login is not connected to.
  import("./pages/preferences.js").then((m) => m.billingBanner(session, $("main"))).catch(() => {});
  await startRouter(session, pages);
}

start();
