// The devstack's pretend Outlook: a few messages from the demo firm's clients about their matters (the
// people and matter numbers of devstack/demo_book.py), a reading pane, a compose form, and the real
// Matterline task pane framed beside them, all driven through window.officeStandIn.
(function () {
  "use strict";
  var standIn = window.officeStandIn;
  var today = new Date();
  function at(hours, minutes) {
    var d = new Date(today);
    d.setHours(hours, minutes, 0, 0);
    return d.toISOString();
  }

  var MESSAGES = [
    {
      itemId: "AAMkDemo0001", internetMessageId: "<acme-termination-1@acme-mfg.example>",
      conversationId: "AAQkDemoAcme1", receivedAt: at(8, 12),
      from: { emailAddress: "dana.whitfield@acme-mfg.example", displayName: "Dana Whitfield" },
      subject: "Acme: permits and the Northwind dispute",
      body: "Hi Alex,\n\nTwo things today: the county's questions on the plant permits (2026-0102) and Northwind's " +
        "termination letter under the supply contract (2026-0101). Can we talk at 3?\n\nDana",
    },
    {
      itemId: "AAMkDemo0002", internetMessageId: "<helix-forensics-7@evergreenbio.example>",
      conversationId: "AAQkDemoHelix", receivedAt: at(8, 40),
      from: { emailAddress: "ravi.menon@evergreenbio.example", displayName: "Ravi Menon" },
      subject: "Forensic image of the laptop",
      body: "Alex,\n\nFollowing our call on the Helix matter (2026-0141), the forensic image of the former " +
        "engineer's laptop is ready. The vendor's chain-of-custody form is attached.\n\nRavi",
    },
    {
      itemId: "AAMkDemo0003", internetMessageId: "<marina-loi-3@brightwater.example>",
      conversationId: "AAQkDemoMarina", receivedAt: at(9, 5),
      from: { emailAddress: "helen.park@brightwater.example", displayName: "Helen Park" },
      subject: "Lakeside Marina - revised letter of intent",
      body: "Alex,\n\nThe seller came back on the escrow holdback. Revised LOI attached; comments by Friday?\n\nHelen",
    },
    {
      itemId: "AAMkDemo0004", internetMessageId: "<due-process-12@cedarridge.example>",
      conversationId: "AAQkDemoCedar", receivedAt: at(9, 30),
      from: { emailAddress: "marcus.bell@cedarridge.example", displayName: "Marcus Bell" },
      subject: "Due process hearing - witness list (2026-0124)",
      body: "Attached is the district's draft witness list for the hearing. Please confirm the order.\n\nMarcus",
    },
    {
      itemId: "AAMkDemo0005", internetMessageId: "<will-question-2@delgado-family.example>",
      conversationId: "AAQkDemoDelgado", receivedAt: at(10, 2),
      from: { emailAddress: "maria@delgado-family.example", displayName: "Maria Delgado" },
      subject: "Question about my will",
      body: "Dear Mr. Attorney,\n\nCould my daughter be the executor instead of my brother?\n\nMaria",
    },
  ];

  var $ = function (id) { return document.getElementById(id); };
  $("user").textContent = standIn.user.displayName + " (" + standIn.user.emailAddress + ")";

  function listItem(message, onClick) {
    var li = document.createElement("li");
    var button = document.createElement("button");
    button.type = "button";
    button.dataset.itemId = message.itemId || "";
    var from = document.createElement("span");
    from.className = "from";
    from.textContent = message.from ? message.from.displayName : "To " + (message.to || []).join(", ");
    var subject = document.createElement("span");
    subject.className = "subject";
    subject.textContent = message.subject;
    button.append(from, subject);
    button.onclick = onClick;
    li.append(button);
    return li;
  }

  function select(itemId) {
    document.querySelectorAll("#messages button").forEach(function (b) {
      b.setAttribute("aria-current", String(b.dataset.itemId === itemId));
    });
  }

  function showRead(message) {
    $("empty").hidden = true;
    $("compose").hidden = true;
    $("read").hidden = false;
    $("read-subject").textContent = message.subject;
    $("read-from").textContent = message.from.displayName + " <" + message.from.emailAddress + ">";
    $("read-to").textContent = "To: " + standIn.user.emailAddress;
    $("read-body").textContent = message.body;
  }

  $("messages").append.apply($("messages"), MESSAGES.map(function (message) {
    return listItem(message, function () {
      select(message.itemId);
      showRead(message);
      standIn.openItem(message);
    });
  }));

  function renderSent() {
    $("sent").replaceChildren.apply($("sent"), standIn.sentItems().map(function (message) {
      return listItem({ subject: message.subject, to: message.to }, function () {});
    }));
  }

  $("new-message").onclick = function () {
    select("");
    $("empty").hidden = true;
    $("read").hidden = true;
    $("compose").hidden = false;
    $("compose").reset();
    $("send-status").textContent = "";
    standIn.compose({});
    $("compose-to").focus();
  };
  ["compose-to", "compose-subject", "compose-body"].forEach(function (id) {
    $(id).addEventListener("input", function () {
      standIn.edit({
        to: $("compose-to").value.split(/[;,]\s*/).filter(Boolean),
        subject: $("compose-subject").value,
        body: $("compose-body").value,
      });
    });
  });
  $("compose").onsubmit = function (event) {
    event.preventDefault();
    $("send-status").textContent = "Sending...";
    standIn.send().then(function (outcome) {
      $("send-status").textContent = outcome.sent ? "Sent." : "Not sent: " + (outcome.record.options || {}).errorMessage;
      if (outcome.sent) {
        $("compose").hidden = true;
        $("empty").hidden = false;
        renderSent();
      }
    });
  };
  $("discard").onclick = function () {
    $("compose").hidden = true;
    $("empty").hidden = false;
    standIn.close();
  };
  standIn.onChange(function (item) {
    // A test driving officeStandIn directly still sees the reading pane follow along.
    if (item && item.kind === "read") {
      var message = MESSAGES.find(function (m) { return m.itemId === item.itemId; });
      if (message) { select(message.itemId); showRead(message); }
    } else if (item && item.kind === "compose" && $("compose").hidden) {
      select("");
      $("empty").hidden = true;
      $("read").hidden = true;
      $("compose").hidden = false;
      $("compose-to").value = item.to.map(function (a) { return a.emailAddress; }).join("; ");
      $("compose-subject").value = item.subject;
      $("compose-body").value = item.bodyText;
    }
    renderSent();
  });
  window.demoMessages = MESSAGES;
})();
