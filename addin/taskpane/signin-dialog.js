// The sign-in dialog: runs the console's PKCE flow with this page as its redirect URI, then hands the
// access token to the task pane through Office.context.ui.messageParent and lets the pane close it.
import { completeSignIn, signIn } from "../shared/auth.js";

const status = document.getElementById("status");

function answer(message) {
  Office.context.ui.messageParent(JSON.stringify(message));
}

async function start() {
  await Office.onReady();
  const config = await (await fetch(new URL("../config.json", window.location.href))).json();
  const dialogConfig = { ...config, redirectUri: new URL("signin.html", window.location.href).href };
  const query = new URLSearchParams(window.location.search);
  if (query.get("error")) {
    answer({ error: query.get("error_description") || "Sign-in was refused. Sign in again." });
    return;
  }
  try {
    const token = await completeSignIn(dialogConfig);
    if (token) {
      status.textContent = "Signed in. You can close this window.";
      answer({ token });
      return;
    }
  } catch (error) {
    answer({ error: error.message });
    return;
  }
  await signIn(dialogConfig);
}

start().catch((error) => {
  status.textContent = `Sign-in failed: ${error.message}`;
  answer({ error: "Sign-in could not start. Check your connection and sign in again." });
});
