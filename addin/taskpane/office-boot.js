// Gives the page an `Office` object before anything else runs.
//
// Inside Outlook the page loads Microsoft's Office.js (the only supported way to get it). Inside the
// devstack's Outlook stand-in (a same-origin parent or opener that defines `officeStandIn`), the page
// borrows the stand-in's implementation instead, so nothing is fetched from outside this machine.
// A classic script on purpose: it must run, synchronously, before the page's modules.
(function () {
  "use strict";
  var OFFICE_JS = "https://appsforoffice.microsoft.com/lib/1/hosted/office.js";
  var role = document.currentScript && document.currentScript.dataset.role || "taskpane";

  function standIn() {
    var candidates = [window.parent !== window ? window.parent : null, window.opener];
    for (var i = 0; i < candidates.length; i += 1) {
      try {
        if (candidates[i] && candidates[i].officeStandIn) return candidates[i].officeStandIn;
      } catch (crossOrigin) {
        // A cross-origin parent is Outlook itself: fall through to Office.js.
      }
    }
    return null;
  }

  var host = standIn();
  if (host) {
    window.Office = host.officeFor(window, role);
    window.matterlineStandIn = true;
  } else {
    // document.write keeps Office.js synchronous, as Office requires it to load before the page's code.
    document.write('<script src="' + OFFICE_JS + '"><\/script>');
  }
})();
