// Delegates: who may view or work on my timeline (never my personal items), and whose timelines I may open.
import { busy, card, explain, field, h, select, statusLine, table } from "../util.js";

const ACCESS = [["act", "View and change"], ["view", "View only"]];

export async function render(ctx, root) {
  const { session } = ctx;
  root.append(h("div", { class: "page-head" }, h("h1", { tabindex: "-1" }, "Delegates")));
  let mine = await session.call("GET", "/me/delegates");
  let people = [];
  if (session.can("roster:read")) {
    people = (await session.call("GET", "/users?limit=200")).items;
  }
  const status = statusLine({ id: "delegates-status" });
  const listHost = h("div", { id: "delegates-list" });

  function draw() {
    listHost.replaceChildren(mine.delegates.length
      ? table("!My delegates", ["Person", "Email", "Access", ""], mine.delegates.map((d) => [d.display_name, d.email,
        ACCESS.find(([v]) => v === d.access)?.[1] || d.access,
        h("button", { type: "button", class: "link", "aria-label": `Remove ${d.display_name}`,
          onclick: (e) => save(e.target, mine.delegates.filter((x) => x.user_id !== d.user_id)) }, "Remove")]))
      : h("p", { class: "muted" }, "Nobody can open your timeline."));
  }

  async function save(button, delegates) {
    // Neither a "Saved." nor a refusal left from the last change may read as this one's outcome.
    status.textContent = "";
    ctx.problem("");
    try {
      mine = await busy(button, () => session.call("PUT", "/me/delegates", {
        version: mine.version,
        delegates: delegates.map((d) => ({ ...(d.user_id ? { user_id: d.user_id } : { email: d.email }), access: d.access })) }));
      status.textContent = "Saved. The change applies at once.";
      draw();
      return true;
    } catch (error) { ctx.problem(explain(error)); return false; }
  }

  if (session.can("time:read-own")) {
    const candidates = people.filter((p) => p.user_id !== session.me.user.user_id && p.status !== "disabled");
    const person = candidates.length
      ? select([["", "Choose someone"], ...candidates.map((p) => [p.user_id, `${p.display_name} (${p.email})`])], "", { id: "delegate-person" })
      // Attorneys cannot read the roster: they name their delegate by work email instead.
      : h("input", { id: "delegate-person", type: "email", autocomplete: "off", placeholder: "Their work email" });
    const access = select(ACCESS, "act", { id: "delegate-access" });
    const add = h("button", { type: "button" }, "Add delegate");
    add.onclick = () => {
      if (!person.value.trim()) {
        ctx.problem(candidates.length ? "Choose who should be your delegate first." : "Enter your delegate's work email first.");
        return;
      }
      const who = person.value.trim();
      const wanted = who.includes("@") ? { email: who } : { user_id: who };
      save(add, [...mine.delegates.filter((d) => d.user_id !== who && d.email.toLowerCase() !== who.toLowerCase()),
        { ...wanted, access: access.value }]).then((saved) => { if (saved) person.value = ""; });
    };
    draw();
    root.append(card("Who may act for me", h("p", { class: "muted" },
      "Delegates see your timeline and, with “View and change”, assign and release your entries. They never see your personal items."),
    listHost, h("div", { class: "toolbar" }, field("Person", person), field("Access", access), add), status));
  }
  root.append(card("Whom I act for", mine.acting_for.length
    ? h("ul", {}, mine.acting_for.map((p) => h("li", {}, h("a", { href: `#timeline?user_id=${encodeURIComponent(p.user_id)}` },
      `${p.display_name}'s timeline`), ` · ${ACCESS.find(([v]) => v === p.access)?.[1] || p.access}`)))
    : h("p", { class: "muted" }, "Nobody has made you their delegate.")));
}
