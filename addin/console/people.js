// Who did something, in words. Audit records and logs name their actor as the API does ("user:<id>",
// "api_token:<id>", "system:<job>"); people read names.
import { allPages } from "./util.js";

const SYSTEM_JOBS = {
  "system": "Matterline",
  "system:m365-sync": "Microsoft 365 sync",
  "system:schedule": "Scheduled billing sync",
  "system:scheduled-export": "Scheduled export",
};

/**
 * A function from an actor to a label: the person's name where the caller may read the roster, else their
 * id; "API token …" and the scheduled jobs by what they are.
 */
export async function actorNamer(session) {
  if (!rosters.has(session)) rosters.set(session, rosterNames(session));
  const names = await rosters.get(session);
  return (actor) => {
    if (!actor) return "—";
    const colon = actor.indexOf(":");
    const kind = colon < 0 ? actor : actor.slice(0, colon);
    const id = colon < 0 ? "" : actor.slice(colon + 1);
    if (kind === "user") return names.get(id) || id;
    if (kind === "api_token") return `API token ${id}`;
    if (kind === "system") return SYSTEM_JOBS[actor] || `Matterline (${id})`;
    return actor;
  };
}

// One read of the roster per signed-in session: pages redraw often, and names rarely change.
const rosters = new WeakMap();

async function rosterNames(session) {
  if (!session.can("roster:read")) return new Map();
  try {
    return new Map((await allPages(session.call, "/users")).map((u) => [u.user_id, u.display_name]));
  } catch {
    return new Map(); // ids are still right, only less friendly
  }
}
