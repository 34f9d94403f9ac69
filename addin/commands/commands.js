// Launch events: OnNewMessageCompose stamps a correlation id on the draft and records when writing
// started; OnMessageSend records the send with the same correlation id. Graph's Sent Items sync later
// finds the sent message by the same id in its internet headers, so compose time, the add-in's send and
// the sent message all merge into one event.
//
// Rules of event-based activation honoured here: a classic script with no imports (classic Outlook on
// Windows runs it in a JavaScript-only runtime: no DOM, maybe no localStorage), handlers registered with
// Office.actions.associate, and event.completed() on every path, errors included. The send is never
// blocked: Matterline records time, it does not police mail.
/* global Office, OfficeRuntime */
(function () {
  "use strict";

  var HEADER = "x-matterline-correlation";
  var PROPERTY = "matterlineCorrelation";
  var STARTED_PROPERTY = "matterlineComposeStartedAt";
  var QUEUE_KEY = "matterline.queue.v1:launch";
  var TOKEN_KEY = "matterline.addin.token";
  var SEND_TIMEOUT_MS = 4000; // well inside Outlook's limit for a send handler

  function call(method) {
    // Promise wrapper for Office.js' (args..., callback) methods.
    var target = arguments[1];
    var args = Array.prototype.slice.call(arguments, 2);
    return new Promise(function (resolve, reject) {
      args.push(function (result) {
        if (result.status === "succeeded") resolve(result.value);
        else reject(new Error(result.error ? result.error.message : method + " failed"));
      });
      target[method].apply(target, args);
    });
  }

  function newCorrelationId() {
    if (typeof crypto !== "undefined" && crypto.randomUUID) return crypto.randomUUID();
    var hex = "";
    for (var i = 0; i < 32; i += 1) hex += Math.floor(Math.random() * 16).toString(16);
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-4" + hex.slice(13, 16) + "-a" + hex.slice(17, 20) + "-" + hex.slice(20);
  }

  function optional(promise, fallback) {
    return promise.then(null, function () { return fallback; });
  }

  function addresses(list) {
    return (list || []).map(function (a) { return (a.emailAddress || "").toLowerCase(); }).filter(Boolean);
  }

  // ------------------------------------------------------------------- the draft's correlation id

  /** Stamp a new correlation id on the draft: internet header first, custom property as a fallback. */
  function stampCorrelation(item, startedAt) {
    var id = newCorrelationId();
    var header = {};
    header[HEADER] = id;
    var stamped = item.internetHeaders ? optional(call("setAsync", item.internetHeaders, header), null) : Promise.resolve(null);
    var remembered = optional(call("loadCustomPropertiesAsync", item).then(function (properties) {
      properties.set(PROPERTY, id);
      properties.set(STARTED_PROPERTY, startedAt.toISOString());
      return call("saveAsync", properties);
    }), null);
    return Promise.all([stamped, remembered]).then(function () { return id; });
  }

  /** The draft's correlation id and compose start, from the header or the custom property. */
  function readCorrelation(item) {
    var fromHeader = item.internetHeaders
      ? optional(call("getAsync", item.internetHeaders, [HEADER]).then(function (h) { return h[HEADER] || null; }), null)
      : Promise.resolve(null);
    var fromProperties = optional(call("loadCustomPropertiesAsync", item), null);
    return Promise.all([fromHeader, fromProperties]).then(function (found) {
      var properties = found[1];
      var started = properties && properties.get(STARTED_PROPERTY);
      return {
        id: found[0] || (properties && properties.get(PROPERTY)) || null,
        startedAt: started ? new Date(started) : null,
      };
    });
  }

  function draftDetails(item) {
    return Promise.all([
      optional(call("getAsync", item.subject), ""),
      optional(call("getAsync", item.to), []),
      optional(call("getAsync", item.cc), []),
    ]).then(function (found) {
      return { subject: found[0] || "", participants: addresses(found[1]).concat(addresses(found[2])) };
    });
  }

  // ------------------------------------------------------------------------ delivering a capture

  function storage() {
    try {
      if (typeof localStorage !== "undefined") return localStorage;
    } catch (blocked) {
      // storage can be switched off; fall through
    }
    return null;
  }

  /** Leave the capture for the task pane to deliver (it flushes this list with its own). */
  function queue(capture) {
    var store = storage();
    if (!store) {
      if (typeof OfficeRuntime !== "undefined" && OfficeRuntime.storage) {
        return optional(OfficeRuntime.storage.setItem(QUEUE_KEY + ":" + capture.id, JSON.stringify(capture)), null);
      }
      return Promise.resolve(null);
    }
    var list = [];
    try { list = JSON.parse(store.getItem(QUEUE_KEY) || "[]"); } catch (damaged) { list = []; }
    list = list.filter(function (entry) { return entry.capture.id !== capture.id; });
    list.push({ capture: capture, coalesce: null, queuedAt: Date.now() });
    store.setItem(QUEUE_KEY, JSON.stringify(list));
    return Promise.resolve(null);
  }

  function dequeue(id) {
    var store = storage();
    if (!store) return;
    var list = [];
    try { list = JSON.parse(store.getItem(QUEUE_KEY) || "[]"); } catch (damaged) { list = []; }
    store.setItem(QUEUE_KEY, JSON.stringify(list.filter(function (entry) { return entry.capture.id !== id; })));
  }

  function token() {
    var store = typeof sessionStorage !== "undefined" ? sessionStorage : null;
    var cached = store && store.getItem(TOKEN_KEY);
    if (cached) return Promise.resolve(cached);
    if (Office.auth && Office.auth.getAccessToken) {
      // Never prompt from a launch event: there is no one to answer while the mail is being sent.
      return optional(Office.auth.getAccessToken({ allowSignInPrompt: false, allowConsentPrompt: false }), null);
    }
    return Promise.resolve(null);
  }

  function apiBase() {
    var saved = Office.context.roamingSettings && Office.context.roamingSettings.get("apiBaseUrl");
    if (saved) return Promise.resolve(saved);
    if (typeof fetch === "undefined" || typeof location === "undefined") return Promise.resolve(null);
    return optional(fetch(new URL("../config.json", location.href)).then(function (r) { return r.json(); })
      .then(function (config) { return config.apiBaseUrl; }), null);
  }

  /** Queue first (so nothing is lost), then try to deliver at once; the pane delivers what is left. */
  function deliver(capture) {
    return queue(capture).then(function () {
      return Promise.all([token(), apiBase()]);
    }).then(function (found) {
      if (!found[0] || !found[1] || typeof fetch === "undefined") return false;
      var controller = typeof AbortController !== "undefined" ? new AbortController() : null;
      var timer = controller ? setTimeout(function () { controller.abort(); }, SEND_TIMEOUT_MS) : null;
      return fetch(found[1] + "/capture", {
        method: "POST",
        headers: { Authorization: "Bearer " + found[0], "Content-Type": "application/json" },
        body: JSON.stringify(capture),
        signal: controller ? controller.signal : undefined,
      }).then(function (response) {
        if (timer) clearTimeout(timer);
        // Refused for its content (400/422): it would be refused forever; anything else waits in the queue.
        if (response.ok || response.status === 400 || response.status === 422) dequeue(capture.id);
        return response.ok;
      });
    }).then(null, function () { return false; });
  }

  // ------------------------------------------------------------------------------ the handlers

  function onNewMessageComposeHandler(event) {
    var item = Office.context.mailbox.item;
    var startedAt = new Date();
    stampCorrelation(item, startedAt)
      .then(function (id) {
        return draftDetails(item).then(function (draft) {
          return deliver({
            id: "compose-" + id,
            type: "compose",
            correlation_id: id,
            at: startedAt.toISOString(),
            duration_seconds: 0,
            conversation_id: item.conversationId || null,
            subject: draft.subject,
            participants: draft.participants,
          });
        });
      })
      .then(null, function () { return null; })
      .then(function () { event.completed(); });
  }

  function onMessageSendHandler(event) {
    var item = Office.context.mailbox.item;
    var sentAt = new Date();
    var allow = function () { event.completed({ allowEvent: true }); };
    readCorrelation(item)
      .then(function (found) {
        // A draft opened before the add-in was installed has no id yet: give it one now, so the send
        // still merges with the sent item that Graph reports later.
        return found.id ? found : stampCorrelation(item, sentAt).then(function (id) { return { id: id, startedAt: null }; });
      })
      .then(function (found) {
        return draftDetails(item).then(function (draft) {
          var started = found.startedAt && found.startedAt <= sentAt ? found.startedAt : null;
          return deliver({
            id: "send-" + found.id,
            type: "send",
            correlation_id: found.id,
            at: sentAt.toISOString(),
            started_at: started ? started.toISOString() : null,
            conversation_id: item.conversationId || null,
            subject: draft.subject,
            participants: draft.participants,
          });
        });
      })
      .then(allow, allow);
  }

  Office.actions.associate("onNewMessageComposeHandler", onNewMessageComposeHandler);
  Office.actions.associate("onMessageSendHandler", onMessageSendHandler);
  if (typeof Office.onReady === "function") Office.onReady();
})();
