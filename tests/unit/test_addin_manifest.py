"""The Outlook add-in's manifests, checked offline the way Office reads them."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from lxml import etree

from devstack.addin_manifest import (
    COMMANDS_MAILBOX_VERSION,
    ICON_SIZES,
    AddinHost,
    icon_png,
    manifest_json,
    manifest_xml,
)

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = AddinHost(base_url="https://addin.halemercer.example/matterline")
LOCAL = AddinHost(base_url="http://localhost:8001", api_resource="api://matterline")

OFFICE = "http://schemas.microsoft.com/office/appforoffice/1.1"
BT = "http://schemas.microsoft.com/office/officeappbasictypes/1.0"
VO10 = "http://schemas.microsoft.com/office/mailappversionoverrides"
VO11 = "http://schemas.microsoft.com/office/mailappversionoverrides/1.1"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

# The sequences of the MailApp schema 1.1 ([MS-OWEMXML] OfficeApp for xsi:type MailApp) and of
# VersionOverridesV1_1: Office rejects a manifest whose elements are out of this order.
MAILAPP_ORDER = [
    "Id",
    "AlternateId",
    "Version",
    "ProviderName",
    "DefaultLocale",
    "DisplayName",
    "Description",
    "IconUrl",
    "HighResolutionIconUrl",
    "SupportUrl",
    "AppDomains",
    "Hosts",
    "Requirements",
    "FormSettings",
    "Permissions",
    "Rule",
    "DisableEntityHighlighting",
    "VersionOverrides",
]
VO11_ORDER = ["Description", "Requirements", "Hosts", "Resources", "WebApplicationInfo", "EquivalentAddins"]
RESOURCES_ORDER = ["Images", "Urls", "ShortStrings", "LongStrings"]


def parse(host: AddinHost) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(manifest_xml(host).encode(), parser)


def local(element: etree._Element) -> str:
    return etree.QName(element).localname


def xsi_type(element: etree._Element) -> str | None:
    return element.get(f"{{{XSI}}}type")


def assert_in_order(children: list[str], order: list[str]) -> None:
    positions = [order.index(name) for name in children]
    assert positions == sorted(positions), f"{children} is not in schema order {order}"


def v11(root: etree._Element) -> etree._Element:
    outer = root.find(f"{{{VO10}}}VersionOverrides")
    assert outer is not None and xsi_type(outer) == "VersionOverridesV1_0"
    inner = outer.find(f"{{{VO11}}}VersionOverrides")
    assert inner is not None and xsi_type(inner) == "VersionOverridesV1_1"
    return inner


@pytest.mark.parametrize("host", [PRODUCTION, LOCAL], ids=["production", "devstack"])
def test_the_xml_manifest_is_a_well_formed_mail_app_with_its_elements_in_schema_order(
    host: AddinHost,
) -> None:
    root = parse(host)
    assert etree.QName(root).namespace == OFFICE and local(root) == "OfficeApp"
    assert xsi_type(root) == "MailApp"
    assert_in_order([local(child) for child in root if isinstance(child.tag, str)], MAILAPP_ORDER)
    assert GUID.match(root.findtext(f"{{{OFFICE}}}Id") or "")
    assert re.match(r"^\d+\.\d+\.\d+\.\d+$", root.findtext(f"{{{OFFICE}}}Version") or "")
    assert root.findtext(f"{{{OFFICE}}}Permissions") == "ReadWriteItem"
    inner = v11(root)
    assert_in_order([local(c) for c in inner if isinstance(c.tag, str)], VO11_ORDER)
    resources = inner.find(f"{{{VO11}}}Resources")
    assert resources is not None
    assert [local(c) for c in resources if isinstance(c.tag, str)] == RESOURCES_ORDER


def test_requirement_sets_are_stated_for_the_base_manifest_and_the_commands() -> None:
    root = parse(PRODUCTION)
    base = root.find(f"{{{OFFICE}}}Requirements/{{{OFFICE}}}Sets/{{{OFFICE}}}Set")
    assert base is not None and base.get("Name") == "Mailbox" and base.get("MinVersion") == "1.1"
    sets = v11(root).find(f"{{{VO11}}}Requirements/{{{BT}}}Sets")
    assert sets is not None and sets.get("DefaultMinVersion") == COMMANDS_MAILBOX_VERSION == "1.12"
    assert [s.get("Name") for s in sets] == ["Mailbox"]


def test_every_resource_id_referenced_resolves_to_a_resource_of_the_right_kind() -> None:
    inner = v11(parse(PRODUCTION))
    kinds = {
        "Images": {e.get("id") for e in inner.iter(f"{{{BT}}}Image") if e.get("id")},
        "Urls": {e.get("id") for e in inner.iter(f"{{{BT}}}Url")},
        "ShortStrings": {e.get("id") for e in inner.find(f"{{{VO11}}}Resources/{{{BT}}}ShortStrings")},
        "LongStrings": {e.get("id") for e in inner.find(f"{{{VO11}}}Resources/{{{BT}}}LongStrings")},
    }
    every_id = [i for ids in kinds.values() for i in ids]
    assert len(every_id) == len(set(every_id)), "resource ids must be unique"
    assert all(len(i) <= 32 for i in every_id), "Office limits resource ids to 32 characters"
    expected_kind = {
        "Image": "Images",
        "SourceLocation": "Urls",
        "Runtime": "Urls",
        "Override": "Urls",
        "FunctionFile": "Urls",
        "Label": "ShortStrings",
        "Title": "ShortStrings",
        "Description": "LongStrings",
    }
    referenced = 0
    for element in inner.iter():
        resid = element.get("resid") if isinstance(element.tag, str) else None
        if resid is None:
            continue
        referenced += 1
        kind = expected_kind[local(element)]
        assert resid in kinds[kind], f"<{local(element)} resid={resid!r}> does not resolve in {kind}"
    assert referenced >= 20


@pytest.mark.parametrize("host", [PRODUCTION, LOCAL], ids=["production", "devstack"])
def test_every_url_is_on_the_configured_host_and_https_outside_localhost(host: AddinHost) -> None:
    text = manifest_xml(host)
    urls = re.findall(r"https?://[^\"<\s]+", text)
    urls = [u for u in urls if "schemas.microsoft.com" not in u and "www.w3.org" not in u]
    assert len(urls) > 10
    origin = urlsplit(host.base_url)
    for url in urls:
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc), url
        # AppDomains names the origin; everything else lives under the add-in's own path.
        assert url.startswith(host.base_url) or url == host.origin, url
    document = manifest_json(host)
    for url in re.findall(r"https?://[^\"]+", json.dumps(document)):
        if "json-schemas" in url:
            continue
        assert url.startswith(host.base_url), url
    if host is PRODUCTION:
        assert all(u.startswith("https://") for u in urls)


def test_a_plain_http_host_is_refused_unless_it_is_this_machine() -> None:
    with pytest.raises(ValueError, match="https"):
        AddinHost(base_url="http://addin.halemercer.example")
    with pytest.raises(ValueError, match="absolute"):
        AddinHost(base_url="addin.halemercer.example")
    assert AddinHost(base_url="http://127.0.0.1:9000/").base_url == "http://127.0.0.1:9000"


def test_launch_events_compose_and_send_run_in_a_runtime_with_the_javascript_only_override() -> None:
    inner = v11(parse(PRODUCTION))
    urls = {e.get("id"): e.get("DefaultValue") for e in inner.iter(f"{{{BT}}}Url")}
    runtime = inner.find(f".//{{{VO11}}}Runtimes/{{{VO11}}}Runtime")
    assert runtime is not None
    override = runtime.find(f"{{{VO11}}}Override")
    assert override is not None and override.get("type") == "javascript"
    assert urls[runtime.get("resid")].endswith("/commands/commands.html")
    assert urls[override.get("resid")].endswith("/commands/commands.js")
    point = next(p for p in inner.iter(f"{{{VO11}}}ExtensionPoint") if xsi_type(p) == "LaunchEvent")
    events = {e.get("Type"): e for e in point.iter(f"{{{VO11}}}LaunchEvent")}
    assert set(events) == {"OnNewMessageCompose", "OnMessageSend"}
    assert events["OnNewMessageCompose"].get("FunctionName") == "onNewMessageComposeHandler"
    assert events["OnMessageSend"].get("FunctionName") == "onMessageSendHandler"
    # SoftBlock: the mail goes out if the add-in is unavailable; the handler itself always allows it.
    assert events["OnMessageSend"].get("SendMode") == "SoftBlock"
    source = point.find(f"{{{VO11}}}SourceLocation")
    assert source is not None and source.get("resid") == runtime.get("resid")
    script = (ROOT / "addin" / "commands" / "commands.js").read_text()
    for name in ("onNewMessageComposeHandler", "onMessageSendHandler"):
        assert f'Office.actions.associate("{name}"' in script


def test_read_compose_and_attendee_surfaces_open_the_pinnable_task_pane() -> None:
    inner = v11(parse(PRODUCTION))
    surfaces = [xsi_type(p) for p in inner.iter(f"{{{VO11}}}ExtensionPoint")]
    assert surfaces[:3] == [
        "MessageReadCommandSurface",
        "MessageComposeCommandSurface",
        "AppointmentAttendeeCommandSurface",
    ]
    actions = list(inner.iter(f"{{{VO11}}}Action"))
    assert len(actions) == 3
    for action in actions:
        assert xsi_type(action) == "ShowTaskpane"
        assert action.findtext(f"{{{VO11}}}SupportsPinning") == "true"
    icon_ids = {e.get("id"): e.get("DefaultValue") for e in inner.iter(f"{{{BT}}}Image") if e.get("id")}
    for size in (16, 32, 80):
        assert icon_ids[f"Icon.{size}x{size}"].endswith(f"/assets/icon-{size}.png")


def test_web_application_info_names_the_entra_app_for_single_sign_on() -> None:
    info = v11(parse(PRODUCTION)).find(f"{{{VO11}}}WebApplicationInfo")
    assert info is not None
    assert GUID.match(info.findtext(f"{{{VO11}}}Id") or "")
    assert info.findtext(f"{{{VO11}}}Resource") == (f"api://addin.halemercer.example/{PRODUCTION.client_id}")
    assert [s.text for s in info.iter(f"{{{VO11}}}Scope")] == ["openid", "profile"]
    local_info = v11(parse(LOCAL)).find(f"{{{VO11}}}WebApplicationInfo")
    assert local_info is not None and local_info.findtext(f"{{{VO11}}}Resource") == "api://matterline"


def test_the_unified_manifest_has_the_same_surfaces_events_and_sign_in() -> None:
    document = manifest_json(PRODUCTION)
    assert document["id"] == PRODUCTION.addin_id and re.match(r"^\d+\.\d+\.\d+$", document["version"])
    assert document["webApplicationInfo"] == {"id": PRODUCTION.client_id, "resource": PRODUCTION.resource}
    (extension,) = document["extensions"]
    assert extension["requirements"]["scopes"] == ["mail"]
    actions = {a["id"]: a for runtime in extension["runtimes"] for a in runtime["actions"]}
    (ribbon,) = extension["ribbons"]
    assert ribbon["contexts"] == ["mailRead", "mailCompose", "meetingDetailsAttendee"]
    controls = [c for tab in ribbon["tabs"] for g in tab["groups"] for c in g["controls"]]
    assert all(actions[c["actionId"]]["type"] == "openPage" for c in controls)
    assert all(actions[c["actionId"]]["pinnable"] is True for c in controls)
    (auto_run,) = extension["autoRunEvents"]
    events = {e["type"]: e for e in auto_run["events"]}
    assert set(events) == {"newMessageComposeCreated", "messageSending"}
    assert events["messageSending"]["options"] == {"sendMode": "softBlock"}
    for event in events.values():
        assert actions[event["actionId"]]["type"] == "executeFunction"
    commands = next(r for r in extension["runtimes"] if r["id"] == "CommandsRuntime")
    assert commands["code"]["page"].endswith("/commands/commands.html")
    assert commands["code"]["script"].endswith("/commands/commands.js")
    assert all(len(action_id) <= 64 for action_id in actions)


def test_the_committed_icons_are_the_generated_ones_at_the_sizes_the_manifests_name() -> None:
    assets = ROOT / "addin" / "assets"
    for name, size in [*((f"icon-{s}.png", s) for s in ICON_SIZES), ("color.png", 192), ("outline.png", 32)]:
        data = (assets / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", data[16:24])
        assert (width, height) == (size, size), name
    assert (assets / "icon-32.png").read_bytes() == icon_png(32)


def test_the_manifest_command_writes_both_manifests_and_the_icons(tmp_path: Path) -> None:
    from devstack.cli import main

    assert main(["manifest", "--host", "https://addin.halemercer.example", "--out", str(tmp_path)]) == 0
    written = manifest_xml(AddinHost(base_url="https://addin.halemercer.example"))
    assert (tmp_path / "manifest.xml").read_text() == written
    document = json.loads((tmp_path / "manifest.json").read_text())
    for relative in document["icons"].values():
        assert (tmp_path / relative).is_file()
    with pytest.raises(SystemExit, match="https"):
        main(["manifest", "--host", "http://addin.halemercer.example", "--out", str(tmp_path)])
