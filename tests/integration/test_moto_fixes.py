"""moto with the devstack's transaction fix keeps DynamoDB's all-or-nothing transactions."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack.aws.moto_fixes import back_up_each_table_once


def put(key: str, condition: str | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"TableName": "t", "Item": {"PK": {"S": key}, "SK": {"S": "x"}}}
    if condition:
        operation["ConditionExpression"] = condition
    return {"Put": operation}


def test_a_transaction_that_fails_its_last_condition_writes_none_of_its_operations() -> None:
    back_up_each_table_once()
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="t",
            KeySchema=[
                {"AttributeName": "PK", "KeyType": "HASH"},
                {"AttributeName": "SK", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "PK", "AttributeType": "S"},
                {"AttributeName": "SK", "AttributeType": "S"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        client.put_item(TableName="t", Item={"PK": {"S": "taken"}, "SK": {"S": "x"}})
        operations = [put(f"new-{n}") for n in range(98)] + [put("taken", "attribute_not_exists(PK)")]

        with pytest.raises(ClientError) as refused:
            client.transact_write_items(TransactItems=operations)

        assert refused.value.response["Error"]["Code"] == "TransactionCanceledException"
        assert client.scan(TableName="t")["Count"] == 1
        client.transact_write_items(TransactItems=[put("new-1"), put("new-2")])
        assert client.scan(TableName="t")["Count"] == 3
