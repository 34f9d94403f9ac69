// The offline queue: every capture goes here first, then to the API. Nothing is lost when the network
// or the API is down, and nothing is counted twice when it comes back: each capture has a stable id and a
// stable key (the message, the draft's correlation id), and the server merges by key, so sending the same
// capture again (a lost reply, a second tab) changes nothing.
//
// Storage is localStorage, one list per writer ("pane", "launch"), so the launch-event runtime can leave
// captures for the pane to deliver when it could not (no token, no network) without the two ever
// rewriting each other's list.
import { ApiError } from "../shared/api.js";

export const QUEUE_PREFIX = "matterline.queue.v1:";
const BATCH_LIMIT = 500; // POST /capture/batch takes at most 500 captures

function readList(storage, key) {
  try {
    const parsed = JSON.parse(storage.getItem(key) || "[]");
    return Array.isArray(parsed) ? parsed : [];
  } catch {
    return []; // a damaged list must not stop capture; it is replaced on the next write
  }
}

export class CaptureQueue {
  constructor(storage = window.localStorage, writer = "pane") {
    this.storage = storage;
    this.key = QUEUE_PREFIX + writer;
    this.flushing = null;
    this.listeners = [];
  }

  /** Every queued capture of every writer, oldest first. */
  all() {
    const items = [];
    for (let i = 0; i < this.storage.length; i += 1) {
      const key = this.storage.key(i);
      if (key && key.startsWith(QUEUE_PREFIX)) items.push(...readList(this.storage, key));
    }
    return items.sort((a, b) => a.queuedAt - b.queuedAt);
  }

  get size() {
    return this.all().length;
  }

  /**
   * Queue a capture. A capture with the same `coalesce` key replaces the queued one: a heartbeat covers
   * the whole span since the item was opened, so only the latest of a span needs to travel.
   */
  put(capture, coalesce = null) {
    const list = readList(this.storage, this.key).filter(
      (entry) => entry.capture.id !== capture.id && (coalesce === null || entry.coalesce !== coalesce),
    );
    list.push({ capture, coalesce, queuedAt: Date.now() });
    this.storage.setItem(this.key, JSON.stringify(list));
    this.changed();
  }

  remove(ids) {
    const gone = new Set(ids);
    for (let i = 0; i < this.storage.length; i += 1) {
      const key = this.storage.key(i);
      if (!key || !key.startsWith(QUEUE_PREFIX)) continue;
      const list = readList(this.storage, key);
      const kept = list.filter((entry) => !gone.has(entry.capture.id));
      if (kept.length !== list.length) this.storage.setItem(key, JSON.stringify(kept));
    }
    this.changed();
  }

  onChange(listener) {
    this.listeners.push(listener);
  }

  changed() {
    for (const listener of this.listeners) listener(this);
  }

  /**
   * Send what is queued. Resolves to {sent, dropped, pending, problem}: `problem` is an ApiError when
   * something is still waiting (offline, signed out, server trouble), null when the queue is empty.
   */
  flush(call) {
    if (!this.flushing) {
      this.flushing = this.sendAll(call).finally(() => { this.flushing = null; });
    }
    return this.flushing;
  }

  async sendAll(call) {
    let sent = 0;
    const dropped = [];
    for (;;) {
      const batch = this.all().slice(0, BATCH_LIMIT);
      if (batch.length === 0) return { sent, dropped, pending: 0, problem: null };
      try {
        await call("POST", "/capture/batch", { items: batch.map((entry) => entry.capture) });
        this.remove(batch.map((entry) => entry.capture.id));
        sent += batch.length;
      } catch (error) {
        if (!(error instanceof ApiError) || !isRejection(error)) {
          return { sent, dropped, pending: this.size, problem: asApiError(error) };
        }
        // The batch was refused for its content: find the captures at fault one by one, keep the rest.
        const outcome = await this.sendOneByOne(call, batch);
        sent += outcome.sent;
        dropped.push(...outcome.dropped);
        if (outcome.problem) return { sent, dropped, pending: this.size, problem: outcome.problem };
      }
    }
  }

  async sendOneByOne(call, batch) {
    let sent = 0;
    const dropped = [];
    for (const entry of batch) {
      try {
        await call("POST", "/capture", entry.capture);
        sent += 1;
        this.remove([entry.capture.id]);
      } catch (error) {
        if (error instanceof ApiError && isRejection(error)) {
          dropped.push({ capture: entry.capture, reason: error.message });
          this.remove([entry.capture.id]);
        } else {
          return { sent, dropped, problem: asApiError(error) };
        }
      }
    }
    return { sent, dropped, problem: null };
  }
}

// 400 and 422 mean "this capture is wrong" (it would be refused forever); everything else may pass later.
function isRejection(error) {
  return error.status === 400 || error.status === 422;
}

function asApiError(error) {
  return error instanceof ApiError ? error : new ApiError(0, { detail: String(error && error.message) });
}
