// The Office stand-in: the part of Office.js the Matterline add-in uses, implemented in plain JavaScript
// so the task pane and the launch events run outside Outlook (the devstack page, the browser tests).
//
// This script runs in the page that plays Outlook (devstack/outlook). The task pane, the launch-event
// runtime and the sign-in dialog are framed or opened by that page; each asks for its own `Office` object
// through `officeStandIn.officeFor(window, role)` (see taskpane/office-boot.js). Shapes follow the
// Office.js reference: AsyncResult {status, value, error, asyncContext}, Office.EventType.ItemChanged,
// item.internetHeaders (compose), item.loadCustomPropertiesAsync, roamingSettings, actions.associate,
// ui.displayDialogAsync / messageParent, and the launch events' event.completed({allowEvent}).
//
// Tests drive it through window.officeStandIn: openItem({...}), compose({...}), send(), sentItems(),
// currentItem(), launchEvents (a log of every event dispatched and how the handler completed it).
(function () {
  "use strict";

  const SUCCEEDED = "succeeded";
  const FAILED = "failed";
  const ITEM_CHANGED = "olkItemSelectedChanged";
  // The requirement sets this stand-in honours (Mailbox 1.1 to 1.12 covers everything the add-in uses).
  const MAILBOX_VERSION = [1, 12];

  const user = { displayName: "Alex Attorney", emailAddress: "alex.attorney@halemercer.example",
    timeZone: "Eastern Standard Time" };
  const state = {
    item: null,            // the item Outlook has open: a read item or a compose item
    itemHandlers: [],      // ItemChanged handlers registered by the task pane
    associated: {},        // launch-event handlers registered by the commands runtime
    commandsFrame: null,   // the hidden frame that runs commands.html
    commandsReady: null,   // resolves when the commands runtime has called Office.onReady
    roaming: JSON.parse(localStorage.getItem("officeStandIn.roaming") || "{}"),
    sent: [],
    launchEvents: [],
    listeners: [],         // the page's own listeners (it redraws its reading pane)
    dialog: null,
  };

  function result(value, asyncContext, error) {
    return error
      ? { status: FAILED, value: undefined, error, asyncContext }
      : { status: SUCCEEDED, value, error: undefined, asyncContext };
  }

  // Office.js methods take (arg..., options?, callback?); find the callback and asyncContext wherever they are.
  function callbackOf(args) {
    let options = {};
    let callback = null;
    for (const arg of args) {
      if (typeof arg === "function") callback = arg;
      else if (arg && typeof arg === "object" && "asyncContext" in arg) options = arg;
    }
    return { callback, asyncContext: options.asyncContext };
  }

  function later(args, value, error) {
    const { callback, asyncContext } = callbackOf(args);
    // Office answers asynchronously, never inside the call.
    setTimeout(() => callback && callback(result(value, asyncContext, error)), 0);
  }

  function address(value) {
    if (!value) return null;
    if (typeof value === "string") return { emailAddress: value, displayName: value.split("@")[0] };
    return { emailAddress: value.emailAddress, displayName: value.displayName || value.emailAddress };
  }

  function customProperties(item) {
    const values = { ...(item.customProperties || {}) };
    return {
      get: (name) => values[name],
      set: (name, value) => { values[name] = value; },
      remove: (name) => { delete values[name]; },
      getAll: () => ({ ...values }),
      saveAsync: (...args) => { item.customProperties = { ...values }; later(args); },
    };
  }

  function newId(prefix) {
    const bytes = crypto.getRandomValues(new Uint8Array(12));
    return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ---------------------------------------------------------------------------------- items

  function readItem(spec) {
    const item = {
      kind: "read",
      itemType: "message",
      itemId: spec.itemId || newId("AAMk"),
      internetMessageId: spec.internetMessageId || `<${newId("")}@mail.example>`,
      conversationId: spec.conversationId || newId("AAQk"),
      subject: spec.subject || "",
      from: address(spec.from),
      to: (spec.to || [user.emailAddress]).map(address),
      cc: (spec.cc || []).map(address),
      bodyText: spec.body || "",
      dateTimeCreated: spec.receivedAt ? new Date(spec.receivedAt) : new Date(),
      headers: { ...(spec.headers || {}) },
      customProperties: {},
    };
    item.api = {
      itemType: item.itemType,
      itemId: item.itemId,
      internetMessageId: item.internetMessageId,
      conversationId: item.conversationId,
      subject: item.subject,
      normalizedSubject: item.subject.replace(/^(re|fw|fwd):\s*/i, ""),
      from: item.from,
      sender: item.from,
      to: item.to,
      cc: item.cc,
      dateTimeCreated: item.dateTimeCreated,
      attachments: [],
      body: { getAsync: (...args) => later(args, item.bodyText) },
      getAllInternetHeadersAsync: (...args) =>
        later(args, Object.entries(item.headers).map(([k, v]) => `${k}: ${v}`).join("\r\n")),
      loadCustomPropertiesAsync: (...args) => later(args, customProperties(item)),
    };
    return item;
  }

  function field(item, name) {
    return {
      getAsync: (...args) => later(args, item[name]),
      setAsync: (value, ...args) => { item[name] = value; notify(); later(args); },
    };
  }

  function recipients(item, name) {
    return {
      getAsync: (...args) => later(args, item[name].map(address)),
      setAsync: (value, ...args) => { item[name] = value.map(address); notify(); later(args); },
      addAsync: (value, ...args) => { item[name] = item[name].concat(value.map(address)); notify(); later(args); },
    };
  }

  function composeItem(spec) {
    const item = {
      kind: "compose",
      itemType: "message",
      itemId: null, // a new draft has no id until it is saved
      conversationId: spec.conversationId || null,
      subject: spec.subject || "",
      to: (spec.to || []).map(address),
      cc: (spec.cc || []).map(address),
      bodyText: spec.body || "",
      headers: {},
      customProperties: {},
      startedAt: new Date(),
    };
    item.api = {
      itemType: item.itemType,
      conversationId: item.conversationId,
      subject: field(item, "subject"),
      to: recipients(item, "to"),
      cc: recipients(item, "cc"),
      from: { getAsync: (...args) => later(args, address(user.emailAddress)) },
      body: {
        getAsync: (...args) => later(args, item.bodyText),
        setAsync: (value, ...args) => { item.bodyText = value; notify(); later(args); },
      },
      internetHeaders: {
        getAsync: (names, ...args) => {
          const found = {};
          for (const name of names) {
            const key = Object.keys(item.headers).find((k) => k.toLowerCase() === name.toLowerCase());
            if (key) found[name] = item.headers[key];
          }
          later(args, found);
        },
        setAsync: (headers, ...args) => { Object.assign(item.headers, headers); later(args); },
        removeAsync: (names, ...args) => {
          for (const name of names) delete item.headers[name];
          later(args);
        },
      },
      loadCustomPropertiesAsync: (...args) => later(args, customProperties(item)),
      getItemIdAsync: (...args) => {
        if (!item.itemId) item.itemId = newId("AAMkDraft");
        later(args, item.itemId);
      },
      saveAsync: (...args) => {
        if (!item.itemId) item.itemId = newId("AAMkDraft");
        later(args, item.itemId);
      },
    };
    return item;
  }

  // ------------------------------------------------------------------------ the Office object

  function makeOffice(frameWindow, role) {
    let readyResolve;
    const ready = new Promise((resolve) => { readyResolve = resolve; });
    const info = { host: "Outlook", platform: "OfficeOnline" };
    const Office = {
      HostType: { Outlook: "Outlook" },
      PlatformType: { OfficeOnline: "OfficeOnline" },
      AsyncResultStatus: { Succeeded: SUCCEEDED, Failed: FAILED },
      EventType: {
        ItemChanged: ITEM_CHANGED,
        DialogMessageReceived: "dialogMessageReceived",
        DialogEventReceived: "dialogEventReceived",
      },
      CoercionType: { Text: "text", Html: "html" },
      MailboxEnums: { ItemType: { Message: "message", Appointment: "appointment" } },
      onReady(callback) {
        // The stand-in is ready as soon as the frame's own scripts have run.
        setTimeout(() => readyResolve(info), 0);
        if (role === "commands" && state.commandsReadyResolve) ready.then(() => state.commandsReadyResolve());
        return callback ? ready.then(callback) : ready;
      },
      actions: {
        associate(name, handler) { state.associated[name] = handler; },
      },
      auth: {
        // Single sign-on needs a real Microsoft 365 session; the stand-in answers as Office does on a
        // platform without it (13012), so the add-in falls back to its own sign-in dialog.
        getAccessToken() {
          const error = new Error("SSO is not supported in the Office stand-in.");
          error.code = 13012;
          return Promise.reject(error);
        },
      },
      context: {
        get host() { return "Outlook"; },
        diagnostics: { hostName: "OutlookWebApp", hostVersion: "standin" },
        requirements: {
          isSetSupported(name, version) {
            if (name !== "Mailbox") return false;
            const [major, minor] = String(version || "1.1").split(".").map(Number);
            return major < MAILBOX_VERSION[0] || (major === MAILBOX_VERSION[0] && minor <= MAILBOX_VERSION[1]);
          },
        },
        roamingSettings: {
          get: (name) => state.roaming[name],
          set: (name, value) => { state.roaming[name] = value; },
          remove: (name) => { delete state.roaming[name]; },
          saveAsync: (...args) => {
            localStorage.setItem("officeStandIn.roaming", JSON.stringify(state.roaming));
            later(args);
          },
        },
        mailbox: {
          get item() { return state.item ? state.item.api : null; },
          userProfile: user,
          diagnostics: { hostName: "OutlookWebApp" },
          addHandlerAsync(type, handler, ...args) {
            if (type !== ITEM_CHANGED) return later(args, undefined, { code: 5000, message: "Unsupported event" });
            state.itemHandlers.push({ frameWindow, handler });
            later(args);
          },
          removeHandlerAsync(type, ...args) {
            state.itemHandlers = state.itemHandlers.filter((h) => h.frameWindow !== frameWindow);
            later(args);
          },
        },
        ui: {
          displayDialogAsync(url, options, callback) {
            if (typeof options === "function") { callback = options; options = {}; }
            openDialog(url, options || {}, callback);
          },
          messageParent(message) {
            if (state.dialog) state.dialog.deliver(message);
          },
        },
      },
    };
    return Office;
  }

  function openDialog(url, options, callback) {
    const width = Math.round(screen.availWidth * (options.width || 30) / 100);
    const height = Math.round(screen.availHeight * (options.height || 60) / 100);
    const popup = window.open(url, "matterline-dialog", `popup,width=${width},height=${height}`);
    if (!popup) {
      callback(result(undefined, options.asyncContext,
        { code: 12009, message: "The dialog was blocked by the browser's pop-up blocker." }));
      return;
    }
    const handlers = {};
    const dialog = {
      addEventHandler(type, handler) { handlers[type] = handler; },
      close() { popup.close(); state.dialog = null; },
      messageChild(message) { popup.postMessage(message, location.origin); },
    };
    state.dialog = {
      deliver(message) {
        const handler = handlers.dialogMessageReceived;
        if (handler) handler({ message, origin: location.origin });
      },
    };
    const watch = setInterval(() => {
      if (popup.closed) {
        clearInterval(watch);
        if (state.dialog && handlers.dialogEventReceived) handlers.dialogEventReceived({ error: 12006 });
        state.dialog = null;
      }
    }, 500);
    callback(result(dialog, options.asyncContext));
  }

  // ------------------------------------------------------------------ Outlook's own behaviour

  function notify() {
    for (const listener of state.listeners) listener(state.item);
  }

  function itemChanged() {
    notify();
    for (const { frameWindow, handler } of state.itemHandlers) {
      if (frameWindow.closed) continue;
      setTimeout(() => handler({ type: ITEM_CHANGED }), 0);
    }
  }

  function ensureCommandsRuntime() {
    if (state.commandsReady) return state.commandsReady;
    state.commandsReady = new Promise((resolve) => { state.commandsReadyResolve = resolve; });
    const frame = document.createElement("iframe");
    frame.hidden = true;
    frame.title = "Matterline launch events";
    frame.src = "/commands/commands.html";
    document.body.append(frame);
    state.commandsFrame = frame;
    return state.commandsReady;
  }

  // Runs one launch event the way Outlook does: the handler gets an event whose completed() ends it.
  async function launch(type, handlerName) {
    await ensureCommandsRuntime();
    const handler = state.associated[handlerName];
    const record = { type, handler: handlerName, completed: false, options: undefined, error: null };
    state.launchEvents.push(record);
    if (!handler) {
      record.error = `no handler associated with ${handlerName}`;
      return record;
    }
    return new Promise((resolve) => {
      const event = {
        type,
        completed(options) {
          if (record.completed) return;
          record.completed = true;
          record.options = options;
          resolve(record);
        },
      };
      try {
        handler(event);
      } catch (error) {
        record.error = String(error);
        // Outlook times a handler out rather than waiting forever; the stand-in does the same at once.
        resolve(record);
      }
    });
  }

  const officeStandIn = {
    user,
    /** The Office object for a frame: "taskpane", "commands" or "dialog". */
    officeFor(frameWindow, role) { return makeOffice(frameWindow, role); },
    /** Open a received message in the reading pane (fires ItemChanged). */
    openItem(spec) {
      state.item = readItem(spec);
      itemChanged();
      return { itemId: state.item.itemId, internetMessageId: state.item.internetMessageId };
    },
    /** Start a new message: fires ItemChanged and the OnNewMessageCompose launch event. */
    async compose(spec = {}) {
      state.item = composeItem(spec);
      itemChanged();
      return launch("newMessageComposeCreated", "onNewMessageComposeHandler");
    },
    /** Edit the draft open in compose (subject, to, body) as a person typing would. */
    edit(changes) {
      if (!state.item || state.item.kind !== "compose") throw new Error("no draft is open");
      if (changes.subject !== undefined) state.item.subject = changes.subject;
      if (changes.to !== undefined) state.item.to = changes.to.map(address);
      if (changes.body !== undefined) state.item.bodyText = changes.body;
      notify();
    },
    /** Press Send: runs OnMessageSend; the message goes out only if the handler allows it. */
    async send() {
      const draft = state.item;
      if (!draft || draft.kind !== "compose") throw new Error("no draft is open");
      const record = await launch("messageSending", "onMessageSendHandler");
      const allowed = record.completed && record.options && record.options.allowEvent !== false;
      if (!allowed && record.completed) return { sent: false, record };
      const message = {
        internetMessageId: `<${newId("")}@halemercer.example>`,
        subject: draft.subject,
        to: draft.to.map((a) => a.emailAddress),
        internetHeaders: { ...draft.headers },
        customProperties: { ...draft.customProperties },
        sentAt: new Date().toISOString(),
      };
      state.sent.push(message);
      state.item = null;
      itemChanged();
      return { sent: true, record, message };
    },
    /** Close whatever is open (nothing selected). */
    close() { state.item = null; itemChanged(); },
    currentItem() {
      const item = state.item;
      if (!item) return null;
      return { kind: item.kind, subject: item.subject, itemId: item.itemId,
        internetMessageId: item.internetMessageId, headers: { ...item.headers },
        customProperties: { ...item.customProperties } };
    },
    sentItems() { return state.sent.map((m) => ({ ...m })); },
    get launchEvents() { return state.launchEvents.map((r) => ({ ...r })); },
    onChange(listener) { state.listeners.push(listener); },
  };

  window.officeStandIn = officeStandIn;
})();
