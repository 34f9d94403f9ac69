// The console and the task pane talk only to the public API. Errors carry the API's problem detail,
// so the page can say what went wrong and what to do next.
export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || `The server answered ${status}.`);
    this.status = status;
    this.problem = problem;
  }

  /** The API's per-field problems ({field, message}), e.g. to show beside the inputs they name. */
  get fieldErrors() {
    return Array.isArray(this.problem?.errors) ? this.problem.errors : [];
  }

  /** The message and, when there are any, the fields it names: one line a person can act on. */
  get explanation() {
    const fields = this.fieldErrors.map((e) => `${e.field}: ${e.message}`);
    return fields.length ? `${this.message} (${fields.join("; ")})` : this.message;
  }
}

/**
 * A function calling the API with the bearer token: `call(method, path, body, { raw })`.
 * It answers the parsed JSON, or with `raw` the text (file downloads), and throws ApiError otherwise.
 */
export function apiClient(baseUrl, token) {
  return async function call(method, path, body, options = {}) {
    let response;
    try {
      response = await fetch(`${baseUrl}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${token}`,
          ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
    } catch (error) {
      throw new ApiError(0, { detail: "Matterline cannot be reached. Check your connection and try again." });
    }
    const text = await response.text();
    if (options.raw && response.ok) return text;
    let parsed = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = { detail: `The server answered ${response.status} with something that is not JSON.` };
    }
    if (!response.ok) throw new ApiError(response.status, parsed);
    return parsed;
  };
}

/** A query string from an object, leaving out empty values: `?a=1&b=x` or "". */
export function query(params) {
  const pairs = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  return pairs.length ? `?${new URLSearchParams(pairs)}` : "";
}
