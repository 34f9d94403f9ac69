// The task pane's access token for the Matterline API.
//
// In Outlook: Office single sign-on (Office.auth.getAccessToken, declared by WebApplicationInfo in the
// manifest): Outlook signs the user in once and hands the add-in a token for the API.
// Where single sign-on is not available (older clients, the devstack's Outlook stand-in): the OAuth 2.0
// authorization code flow with PKCE in an Office dialog (signin.html), the same flow as the console.
// Tokens are kept in sessionStorage only, shared with the launch-event runtime of the same session.
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

async function singleSignOn(interactive) {
  if (!Office.auth || typeof Office.auth.getAccessToken !== "function") return null;
  try {
    return await Office.auth.getAccessToken({
      allowSignInPrompt: interactive,
      allowConsentPrompt: interactive,
      forMSGraphAccess: false,
    });
  } catch {
    // 13000-13012: not supported here, not signed in, consent missing... the dialog covers all of them.
    return null;
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
 * this may open a sign-in window, so call it from a click.
 */
export async function accessToken({ interactive = false } = {}) {
  const cached = cachedToken();
  if (cached) return cached;
  const sso = await singleSignOn(interactive);
  if (sso) return remember(sso);
  if (!interactive) return null;
  return remember(await dialogSignIn());
}
