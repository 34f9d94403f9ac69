"""The Outlook add-in's manifests, generated for the host that serves ``addin/``.

Two manifests describe the same add-in:

* ``manifest.xml``: the add-in only manifest (MailApp schema 1.1 with VersionOverrides 1.0 wrapping 1.1),
  which every Outlook reads: classic Outlook on Windows and Mac, Outlook on the web, new Outlook;
* ``manifest.json``: the unified app manifest for Microsoft 365 (the ``extensions`` property), which new
  Outlook, Outlook on the web and Microsoft 365 admin deployment prefer.

Both declare: the read and compose message surfaces and the meeting attendee surface, each with a button
that opens the pinnable task pane; the launch events ``OnNewMessageCompose`` (stamp a correlation id on the
draft) and ``OnMessageSend`` (record the send, never block it: ``SoftBlock`` and the handler always allows
the send), run by ``commands/commands.html`` in browsers and by ``commands/commands.js`` in classic
Outlook on Windows (the JavaScript-only runtime override); and ``WebApplicationInfo`` for single sign-on.

The devstack serves both at ``/manifest.xml`` and ``/manifest.json``; ``matterline manifest --host
https://... --out DIR`` writes them (and the icons) for production.
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

# A fixed id: Outlook tracks an installed add-in by it, so it must not change between builds.
DEFAULT_ADDIN_ID = "5d3c1f0e-7a2b-4c9d-8e6f-1a2b3c4d5e6f"
DEFAULT_CLIENT_ID = "3c6e1b2a-9f4d-4e8b-a1c2-5d6e7f8a9b0c"  # the devstack's Matterline registration
VERSION = "1.0.0.0"
DISPLAY_NAME = "Matterline"
DESCRIPTION = "Captures the time you spend on mail and puts it on the right client matter."
TOOLTIP = "See the matter Matterline suggests for this item, assign it, and review today."

# Requirement sets (Mailbox): 1.1 is where the add-in starts to be useful (read the item); the command
# surface and pinnable pane need 1.5 (ItemChanged while pinned); launch events need 1.10 for
# OnNewMessageCompose and 1.12 for OnMessageSend; internet headers need 1.8.
BASE_MAILBOX_VERSION = "1.1"
COMMANDS_MAILBOX_VERSION = "1.12"
ICON_SIZES = (16, 32, 64, 80, 128)
COLOR_ICON_SIZE = 192  # the unified manifest's "color" icon
OUTLINE_ICON_SIZE = 32  # ... and its "outline" icon (white on transparent)

COMPOSE_HANDLER = "onNewMessageComposeHandler"
SEND_HANDLER = "onMessageSendHandler"
CORRELATION_HEADER = "x-matterline-correlation"


@dataclass(frozen=True)
class AddinHost:
    """Where the add-in is served and which Entra ID app it signs in with."""

    base_url: str
    client_id: str = DEFAULT_CLIENT_ID
    api_resource: str = ""  # the API's Application ID URI; default api://{host}/{client_id} as SSO expects
    addin_id: str = DEFAULT_ADDIN_ID
    version: str = VERSION

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise ValueError(f"the add-in host must be an absolute URL, not {self.base_url!r}")
        if parts.scheme != "https" and not is_loopback(self.base_url):
            # Office loads add-ins only over https; plain http is tolerated for this machine alone.
            raise ValueError(f"the add-in host must use https (only localhost may use http): {self.base_url}")
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def resource(self) -> str:
        return self.api_resource or f"api://{urlsplit(self.base_url).netloc}/{self.client_id}"

    def url(self, path: str) -> str:
        """An absolute URL on this host."""
        return f"{self.base_url}/{path.lstrip('/')}"

    @property
    def taskpane_url(self) -> str:
        return self.url("taskpane/index.html")

    @property
    def commands_page_url(self) -> str:
        return self.url("commands/commands.html")

    @property
    def commands_script_url(self) -> str:
        return self.url("commands/commands.js")

    def icon_url(self, size: int) -> str:
        return self.url(f"assets/icon-{size}.png")


def is_loopback(url: str) -> bool:
    """True for URLs on this machine (where Office sideloading accepts plain http)."""
    return urlsplit(url).hostname in ("localhost", "127.0.0.1", "::1")


# ---------------------------------------------------------------------------------------- manifest.xml


def _button(
    control_id: str, label_id: str, tip_id: str, pane_url_id: str, *, supports_pinning: bool = True
) -> str:
    pinning = "<SupportsPinning>true</SupportsPinning>" if supports_pinning else ""
    return f"""
                  <Control xsi:type="Button" id="{control_id}">
                    <Label resid="{label_id}"/>
                    <Supertip>
                      <Title resid="{label_id}"/>
                      <Description resid="{tip_id}"/>
                    </Supertip>
                    <Icon>
                      <bt:Image size="16" resid="Icon.16x16"/>
                      <bt:Image size="32" resid="Icon.32x32"/>
                      <bt:Image size="80" resid="Icon.80x80"/>
                    </Icon>
                    <Action xsi:type="ShowTaskpane">
                      <SourceLocation resid="{pane_url_id}"/>
                      {pinning}
                    </Action>
                  </Control>"""


def _surface(surface: str, group_id: str, control_id: str) -> str:
    button = _button(control_id, "PaneButton.Label", "PaneButton.Tooltip", "Taskpane.Url")
    return f"""
            <ExtensionPoint xsi:type="{surface}">
              <OfficeTab id="TabDefault">
                <Group id="{group_id}">
                  <Label resid="GroupLabel"/>{button}
                </Group>
              </OfficeTab>
            </ExtensionPoint>"""


def manifest_xml(host: AddinHost) -> str:
    """The add-in only manifest for ``host`` (MailApp 1.1, VersionOverrides 1.0 and 1.1)."""
    images = "".join(
        f'\n          <bt:Image id="Icon.{size}x{size}" DefaultValue={quoteattr(host.icon_url(size))}/>'
        for size in ICON_SIZES
    )
    urls = {
        "Taskpane.Url": host.taskpane_url,
        "WebViewRuntime.Url": host.commands_page_url,
        "JSRuntime.Url": host.commands_script_url,
    }
    url_resources = "".join(
        f'\n          <bt:Url id="{rid}" DefaultValue={quoteattr(value)}/>' for rid, value in urls.items()
    )
    short_strings = {"GroupLabel": DISPLAY_NAME, "PaneButton.Label": "Track time"}
    long_strings = {
        "PaneButton.Tooltip": TOOLTIP,
    }
    short = "".join(
        f'\n          <bt:String id="{rid}" DefaultValue={quoteattr(value)}/>'
        for rid, value in short_strings.items()
    )
    long = "".join(
        f'\n          <bt:String id="{rid}" DefaultValue={quoteattr(value)}/>'
        for rid, value in long_strings.items()
    )
    surfaces = (
        _surface("MessageReadCommandSurface", "ReadGroup", "ReadPaneButton")
        + _surface("MessageComposeCommandSurface", "ComposeGroup", "ComposePaneButton")
        + _surface("AppointmentAttendeeCommandSurface", "AttendeeGroup", "AttendeePaneButton")
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by devstack/addin_manifest.py (the matterline manifest command); do not edit by hand. -->
<OfficeApp xmlns="http://schemas.microsoft.com/office/appforoffice/1.1"
           xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
           xmlns:bt="http://schemas.microsoft.com/office/officeappbasictypes/1.0"
           xmlns:mailappor="http://schemas.microsoft.com/office/mailappversionoverrides/1.0"
           xsi:type="MailApp">
  <Id>{escape(host.addin_id)}</Id>
  <Version>{escape(host.version)}</Version>
  <ProviderName>Matterline</ProviderName>
  <DefaultLocale>en-US</DefaultLocale>
  <DisplayName DefaultValue={quoteattr(DISPLAY_NAME)}/>
  <Description DefaultValue={quoteattr(DESCRIPTION)}/>
  <IconUrl DefaultValue={quoteattr(host.icon_url(64))}/>
  <HighResolutionIconUrl DefaultValue={quoteattr(host.icon_url(128))}/>
  <SupportUrl DefaultValue={quoteattr(host.url("console/"))}/>
  <AppDomains>
    <AppDomain>{escape(host.origin)}</AppDomain>
  </AppDomains>
  <Hosts>
    <Host Name="Mailbox"/>
  </Hosts>
  <Requirements>
    <Sets>
      <Set Name="Mailbox" MinVersion="{BASE_MAILBOX_VERSION}"/>
    </Sets>
  </Requirements>
  <FormSettings>
    <Form xsi:type="ItemRead">
      <DesktopSettings>
        <SourceLocation DefaultValue={quoteattr(host.taskpane_url)}/>
        <RequestedHeight>250</RequestedHeight>
      </DesktopSettings>
    </Form>
    <Form xsi:type="ItemEdit">
      <DesktopSettings>
        <SourceLocation DefaultValue={quoteattr(host.taskpane_url)}/>
      </DesktopSettings>
    </Form>
  </FormSettings>
  <Permissions>ReadWriteItem</Permissions>
  <Rule xsi:type="RuleCollection" Mode="Or">
    <Rule xsi:type="ItemIs" ItemType="Message" FormType="Read"/>
    <Rule xsi:type="ItemIs" ItemType="Message" FormType="Edit"/>
    <Rule xsi:type="ItemIs" ItemType="Appointment" FormType="Read"/>
  </Rule>
  <DisableEntityHighlighting>false</DisableEntityHighlighting>
  <VersionOverrides xmlns="http://schemas.microsoft.com/office/mailappversionoverrides"
                    xsi:type="VersionOverridesV1_0">
    <VersionOverrides xmlns="http://schemas.microsoft.com/office/mailappversionoverrides/1.1"
                      xsi:type="VersionOverridesV1_1">
      <Requirements>
        <bt:Sets DefaultMinVersion="{COMMANDS_MAILBOX_VERSION}">
          <bt:Set Name="Mailbox"/>
        </bt:Sets>
      </Requirements>
      <Hosts>
        <Host xsi:type="MailHost">
          <Runtimes>
            <!-- Browsers (Outlook on the web, new Outlook, Mac) load the HTML page; classic Outlook on
                 Windows runs launch events in its JavaScript-only runtime, which loads the script. -->
            <Runtime resid="WebViewRuntime.Url">
              <Override type="javascript" resid="JSRuntime.Url"/>
            </Runtime>
          </Runtimes>
          <DesktopFormFactor>
            <FunctionFile resid="WebViewRuntime.Url"/>{surfaces}
            <ExtensionPoint xsi:type="LaunchEvent">
              <LaunchEvents>
                <LaunchEvent Type="OnNewMessageCompose" FunctionName="{COMPOSE_HANDLER}"/>
                <LaunchEvent Type="OnMessageSend" FunctionName="{SEND_HANDLER}" SendMode="SoftBlock"/>
              </LaunchEvents>
              <SourceLocation resid="WebViewRuntime.Url"/>
            </ExtensionPoint>
          </DesktopFormFactor>
        </Host>
      </Hosts>
      <Resources>
        <bt:Images>{images}
        </bt:Images>
        <bt:Urls>{url_resources}
        </bt:Urls>
        <bt:ShortStrings>{short}
        </bt:ShortStrings>
        <bt:LongStrings>{long}
        </bt:LongStrings>
      </Resources>
      <WebApplicationInfo>
        <Id>{escape(host.client_id)}</Id>
        <Resource>{escape(host.resource)}</Resource>
        <Scopes>
          <Scope>openid</Scope>
          <Scope>profile</Scope>
        </Scopes>
      </WebApplicationInfo>
    </VersionOverrides>
  </VersionOverrides>
</OfficeApp>
"""


# --------------------------------------------------------------------------------------- manifest.json


def manifest_json(host: AddinHost) -> dict[str, Any]:
    """The unified app manifest for Microsoft 365 with the same surfaces, events and sign-in."""
    mailbox = {"name": "Mailbox", "minVersion": BASE_MAILBOX_VERSION}
    commands_requirement = {"capabilities": [{"name": "Mailbox", "minVersion": COMMANDS_MAILBOX_VERSION}]}
    icons = [{"size": size, "url": host.icon_url(size)} for size in (16, 32, 80)]
    button = {
        "id": "PaneButton",
        "type": "button",
        "label": "Track time",
        "icons": icons,
        "supertip": {
            "title": "Track time",
            "description": TOOLTIP,
        },
        "actionId": "ShowTaskpane",
    }
    return {
        "$schema": "https://developer.microsoft.com/json-schemas/teams/v1.17/MicrosoftTeams.schema.json",
        "manifestVersion": "1.17",
        "version": ".".join(host.version.split(".")[:3]),
        "id": host.addin_id,
        "localizationInfo": {"defaultLanguageTag": "en-us"},
        "developer": {
            "name": "Matterline",
            "websiteUrl": host.url("console/"),
            "privacyUrl": host.url("console/"),
            "termsOfUseUrl": host.url("console/"),
        },
        "name": {"short": DISPLAY_NAME, "full": f"{DISPLAY_NAME} time capture"},
        "description": {"short": DESCRIPTION, "full": DESCRIPTION},
        "icons": {"outline": "assets/outline.png", "color": "assets/color.png"},
        "accentColor": "#0F5C8C",
        "validDomains": [urlsplit(host.base_url).netloc],
        "webApplicationInfo": {"id": host.client_id, "resource": host.resource},
        "authorization": {
            "permissions": {"resourceSpecific": [{"name": "MailboxItem.ReadWrite.User", "type": "Delegated"}]}
        },
        "extensions": [
            {
                "requirements": {"scopes": ["mail"], "capabilities": [mailbox]},
                "runtimes": [
                    {
                        "requirements": {"capabilities": [{"name": "Mailbox", "minVersion": "1.5"}]},
                        "id": "TaskpaneRuntime",
                        "type": "general",
                        "code": {"page": host.taskpane_url},
                        "lifetime": "long",
                        "actions": [{"id": "ShowTaskpane", "type": "openPage", "pinnable": True}],
                    },
                    {
                        "requirements": commands_requirement,
                        "id": "CommandsRuntime",
                        "type": "general",
                        "code": {"page": host.commands_page_url, "script": host.commands_script_url},
                        "lifetime": "short",
                        "actions": [
                            {"id": COMPOSE_HANDLER, "type": "executeFunction"},
                            {"id": SEND_HANDLER, "type": "executeFunction"},
                        ],
                    },
                ],
                "ribbons": [
                    {
                        "contexts": ["mailRead", "mailCompose", "meetingDetailsAttendee"],
                        "tabs": [
                            {
                                "builtInTabId": "TabDefault",
                                "groups": [
                                    {"id": "MatterlineGroup", "label": DISPLAY_NAME, "controls": [button]}
                                ],
                            }
                        ],
                    }
                ],
                "autoRunEvents": [
                    {
                        "requirements": commands_requirement,
                        "events": [
                            {"type": "newMessageComposeCreated", "actionId": COMPOSE_HANDLER},
                            {
                                "type": "messageSending",
                                "actionId": SEND_HANDLER,
                                "options": {"sendMode": "softBlock"},
                            },
                        ],
                    }
                ],
            }
        ],
    }


# ---------------------------------------------------------------------------------------------- icons


def icon_png(size: int, *, outline: bool = False) -> bytes:
    """A clock face on the brand colour (or white on transparent for ``outline``), as PNG bytes.

    Drawn with 4x4 supersampling so the edges are smooth at 16 px as at 192 px.
    """
    brand = (0x0F, 0x5C, 0x8C)
    rows = []
    samples = 4
    for y in range(size):
        row = bytearray([0])  # PNG filter type "None"
        for x in range(size):
            disc = hands = 0
            for sy in range(samples):
                for sx in range(samples):
                    px = (x + (sx + 0.5) / samples) / size - 0.5
                    py = (y + (sy + 0.5) / samples) / size - 0.5
                    radius = math.hypot(px, py)
                    if radius <= 0.48:
                        disc += 1
                        if _on_hands(px, py) or 0.36 <= radius <= 0.40:
                            hands += 1
            total = samples * samples
            if outline:
                row += bytes((255, 255, 255, round(255 * hands / total)))
            else:
                coverage = disc / total
                white = hands / max(disc, 1)
                colour = [round(c + (255 - c) * white) for c in brand]
                row += bytes((*colour, round(255 * coverage)))
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _on_hands(px: float, py: float) -> bool:
    # Hour hand pointing up (12), minute hand pointing right (3): a plain, readable clock at any size.
    width = 0.045
    up = abs(px) <= width and -0.27 <= py <= width
    right = abs(py) <= width and -width <= px <= 0.30
    return up or right


def write_icons(directory: Path) -> list[Path]:
    """Write every icon the manifests reference into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for size in ICON_SIZES:
        path = directory / f"icon-{size}.png"
        path.write_bytes(icon_png(size))
        written.append(path)
    for name, data in (
        ("color.png", icon_png(COLOR_ICON_SIZE)),
        ("outline.png", icon_png(OUTLINE_ICON_SIZE, outline=True)),
    ):
        (directory / name).write_bytes(data)
        written.append(directory / name)
    return written


# ------------------------------------------------------------------------------------------ the command


def write_manifests(host: AddinHost, out: Path) -> list[Path]:
    """Write ``manifest.xml``, ``manifest.json`` and the icons under ``out``; returns what was written."""
    out.mkdir(parents=True, exist_ok=True)
    xml_path, json_path = out / "manifest.xml", out / "manifest.json"
    xml_path.write_text(manifest_xml(host), encoding="utf-8")
    json_path.write_text(json.dumps(manifest_json(host), indent=2) + "\n", encoding="utf-8")
    return [xml_path, json_path, *write_icons(out / "assets")]


def cmd_manifest(args: argparse.Namespace) -> int:
    """``matterline manifest --host https://... --out DIR``."""
    try:
        host = AddinHost(
            base_url=args.host,
            client_id=args.client_id,
            api_resource=args.resource or "",
            addin_id=args.addin_id,
            version=args.version,
        )
    except ValueError as error:
        raise SystemExit(f"matterline: {error}") from error
    for path in write_manifests(host, args.out):
        print(path)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``manifest`` to the ``matterline`` parser."""
    manifest = commands.add_parser(
        "manifest", help="write the Outlook add-in's manifest.xml, manifest.json and icons for a host"
    )
    manifest.add_argument("--host", required=True, help="where addin/ is served, e.g. https://addin.firm.com")
    manifest.add_argument("--out", type=Path, required=True, help="folder to write into")
    manifest.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help="the Entra ID app's client id")
    manifest.add_argument(
        "--resource",
        help="the API's Application ID URI (default: api://HOST/CLIENT-ID, as Office SSO expects)",
    )
    manifest.add_argument(
        "--addin-id", default=DEFAULT_ADDIN_ID, help="the add-in's own GUID (keep it stable)"
    )
    manifest.add_argument("--version", default=VERSION, help="four-part version, e.g. 1.0.0.0")
    manifest.set_defaults(handler=cmd_manifest)
