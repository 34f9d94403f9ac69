// The task pane's access token for the Matterline API.
//
// In Outlook: nested app authentication (MSAL.js, createNestablePublicClientApplication). Outlook brokers
// the sign-in for the add-in, so a user signed in to Outlook gets a token without a prompt. Where the host
// offers no broker (older clients, the devstack's Outlook stand-in), MSAL runs as an ordinary single-page
// app against the firm's identity provider (a popup, redirect.html as its bridge page). Where even a popup
// cannot open (classic Outlook on Windows without nested app authentication), the authorization code flow
// with PKCE runs in an Office dialog (signin.html), as Microsoft's NAA samples fall back.
// Tokens are kept in sessionStorage, shared with the launch-event runtime of the same session.
export const TOKEN_KEY = "matterline.addin.token";
const EARLY_SECONDS = 120; // renew a little before expiry, so a request never leaves with a dying token

function expiryOf(token) {
  try {
    const payload = JSON.parse(atob(token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));
    return typeof payload.exp === "number" ? payload.exp * 1000 : 0;
  } catch {
    return 0;
  }
}

export function cachedToken() {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token || expiryOf(token) - EARLY_SECONDS * 1000 <= Date.now()) return null;
  return token;
}

function remember(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  return token;
}

export function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

let nestable = null; // one MSAL client per page

function msalClient(config) {
  if (!nestable) {
    const authority = new URL(config.authority);
    nestable = msal.createNestablePublicClientApplication({
      auth: {
        clientId: config.clientId,
        authority: config.authority,
        // Entra ID is known to MSAL; any other host (the devstack's identity provider) must be named.
        knownAuthorities: [authority.host],
        redirectUri: new URL("redirect.html", window.location.href).href,
      },
      cache: { cacheLocation: "sessionStorage" },
    });
  }
  return nestable;
}

// MSAL errors after which only the Office dialog can still sign the user in.
const POPUP_UNAVAILABLE = new Set(["popup_window_error", "empty_window_error", "block_nested_popups"]);

async function msalToken(config, interactive) {
  if (typeof msal === "undefined") return null;
  const client = await msalClient(config);
  const request = { scopes: [config.apiScope] };
  const account = client.getActiveAccount() || client.getAllAccounts()[0];
  try {
    // With a broker (Outlook), a silent request needs no account: the host signs in as its own user.
    const result = await client.acquireTokenSilent(account ? { ...request, account } : request);
    return result.accessToken;
  } catch (error) {
    if (!interactive) return null;
  }
  try {
    const result = await client.acquireTokenPopup(request);
    client.setActiveAccount(result.account);
    return result.accessToken;
  } catch (error) {
    if (POPUP_UNAVAILABLE.has(error.errorCode)) return null;
    if (error.errorCode === "user_cancelled") {
      throw new Error("The sign-in window was closed before you signed in. Sign in again.");
    }
    throw new Error(`Sign-in did not finish (${error.errorMessage || error.message}). Sign in again.`);
  }
}

function dialogSignIn() {
  const url = new URL("signin.html", window.location.href).href;
  return new Promise((resolve, reject) => {
    Office.context.ui.displayDialogAsync(url, { height: 70, width: 35, promptBeforeOpen: false }, (opened) => {
      if (opened.status !== Office.AsyncResultStatus.Succeeded) {
        reject(new Error(`The sign-in window could not open (${opened.error.message}). Allow pop-ups for this add-in and try again.`));
        return;
      }
      const dialog = opened.value;
      dialog.addEventHandler(Office.EventType.DialogMessageReceived, (arg) => {
        dialog.close();
        let answer;
        try {
          answer = JSON.parse(arg.message);
        } catch {
          answer = { error: "The sign-in window sent an answer the add-in cannot read. Sign in again." };
        }
        if (answer.token) resolve(answer.token);
        else reject(new Error(answer.error || "Sign-in did not finish. Sign in again."));
      });
      dialog.addEventHandler(Office.EventType.DialogEventReceived, () => {
        reject(new Error("The sign-in window was closed before you signed in. Sign in again."));
      });
    });
  });
}

/**
 * A token for the API, or null when the user has to act (interactive is false). With `interactive`,
 * this may open a sign-in window, so call it from a click. `config` is the add-in's /config.json.
 */
export async function accessToken({ interactive = false, config }) {
  const cached = cachedToken();
  if (cached) return cached;
  const brokered = await msalToken(config, interactive);
  if (brokered) return remember(brokered);
  if (!interactive) return null;
  return remember(await dialogSignIn());
}
