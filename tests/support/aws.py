"""The table for moto-backed tests, created from the same ``infra/template.yaml`` that deploys it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devstack.aws.cfn_yaml import load_template

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"
_KEPT = ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")


def create_table(client: Any, table_name: str) -> None:
    """Create the Matterline table under ``table_name`` with the template's keys and indexes."""
    properties = load_template(TEMPLATE)["Resources"]["Table"]["Properties"]
    kwargs = {key: properties[key] for key in _KEPT if key in properties}
    client.create_table(TableName=table_name, **kwargs)
