// Sign-in for the console: OAuth 2.0 authorization code with PKCE against Entra ID (or the devstack's
// stand-in). The access token lives in sessionStorage only: closing the tab signs the user out.
const TOKEN_KEY = "matterline.token";
const VERIFIER_KEY = "matterline.pkce";
const RETURN_KEY = "matterline.return";

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

async function pkcePair() {
  const verifier = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return { verifier, challenge: base64url(digest) };
}

// `returnTo` (e.g. a deep link's #hash) is where the page goes back to once the sign-in has finished:
// the identity provider only knows the registered redirect URI, which carries no hash.
export async function signIn(config, returnTo = "") {
  if (returnTo) sessionStorage.setItem(RETURN_KEY, returnTo);
  const { verifier, challenge } = await pkcePair();
  const state = base64url(crypto.getRandomValues(new Uint8Array(16)));
  sessionStorage.setItem(VERIFIER_KEY, JSON.stringify({ verifier, state }));
  const params = new URLSearchParams({
    client_id: config.clientId,
    response_type: "code",
    redirect_uri: config.redirectUri,
    scope: `${config.apiScope} openid profile offline_access`,
    state,
    code_challenge: challenge,
    code_challenge_method: "S256",
  });
  window.location.assign(`${config.authority}/oauth2/v2.0/authorize?${params}`);
}

// Finishes a sign-in when the identity provider sent the browser back with ?code=...
export async function completeSignIn(config) {
  const query = new URLSearchParams(window.location.search);
  const code = query.get("code");
  if (!code) return null;
  const pending = JSON.parse(sessionStorage.getItem(VERIFIER_KEY) || "null");
  sessionStorage.removeItem(VERIFIER_KEY);
  window.history.replaceState({}, "", config.redirectUri);
  if (!pending || pending.state !== query.get("state")) {
    throw new Error("The sign-in answer did not match the request. Sign in again.");
  }
  const response = await fetch(`${config.authority}/oauth2/v2.0/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      client_id: config.clientId,
      code,
      redirect_uri: config.redirectUri,
      code_verifier: pending.verifier,
      scope: config.apiScope,
    }),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error_description || "Sign-in failed. Sign in again.");
  sessionStorage.setItem(TOKEN_KEY, body.access_token);
  return body.access_token;
}

// Where the page asked to go back to after signing in (once: reading it forgets it).
export function takeReturnTo() {
  const value = sessionStorage.getItem(RETURN_KEY) || "";
  sessionStorage.removeItem(RETURN_KEY);
  return value;
}

function expiresAt(token) {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return typeof payload.exp === "number" ? payload.exp * 1000 : Infinity;
  } catch {
    return Infinity; // not a JWT we can read: let the API decide
  }
}

// The stored token, unless it has expired (then the user signs in again instead of meeting a 401).
export function currentToken() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token && expiresAt(token) <= Date.now()) {
    sessionStorage.removeItem(TOKEN_KEY);
    return null;
  }
  return token;
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
}
