"""``Table`` on DynamoDB, through the low-level boto3 client."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import count
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.adapters.persistence.table import (
    AllOf,
    AttributeEquals,
    AttributeIn,
    Check,
    Condition,
    ConditionFailed,
    Delete,
    Item,
    ItemAbsent,
    ItemPresent,
    KeyRange,
    Operation,
    Put,
    QueryPage,
    TableStats,
    TransactionCancelled,
)

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def to_dynamo(item: Item) -> dict[str, Any]:
    """Plain Python values → DynamoDB JSON."""
    return {key: _serializer.serialize(value) for key, value in item.items()}


def from_dynamo(item: dict[str, Any]) -> Item:
    """DynamoDB JSON → plain Python values (numbers come back as ``Decimal``)."""
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


class _Expression:
    """Builds one ConditionExpression with its name and value placeholders."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self._ids = count()

    def name(self, attribute: str) -> str:
        placeholder = f"#n{next(self._ids)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{next(self._ids)}"
        self.values[placeholder] = _serializer.serialize(value)
        return placeholder

    def render(self, condition: Condition) -> str:
        if isinstance(condition, ItemAbsent):
            return f"attribute_not_exists({self.name('PK')})"
        if isinstance(condition, ItemPresent):
            return f"attribute_exists({self.name('PK')})"
        if isinstance(condition, AttributeEquals):
            return f"{self.name(condition.name)} = {self.value(condition.value)}"
        if isinstance(condition, AttributeIn):
            attribute = self.name(condition.name)
            options = ", ".join(self.value(v) for v in condition.values)
            return f"{attribute} IN ({options})"
        if isinstance(condition, AllOf):
            return " AND ".join(f"({self.render(part)})" for part in condition.conditions)
        raise TypeError(f"unknown condition {condition!r}")

    def attach(self, request: dict[str, Any], condition: Condition | None) -> dict[str, Any]:
        if condition is None:
            return request
        request["ConditionExpression"] = self.render(condition)
        request["ExpressionAttributeNames"] = self.names
        if self.values:
            request["ExpressionAttributeValues"] = self.values
        return request


class DynamoTable:
    """The one Matterline table in DynamoDB."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self.table_name = table_name
        self.stats = TableStats()

    def get(self, pk: str, sk: str) -> Item | None:
        self.stats.gets += 1
        response = self._client.get_item(
            TableName=self.table_name, Key=to_dynamo({"PK": pk, "SK": sk}), ConsistentRead=True
        )
        raw = response.get("Item")
        return from_dynamo(raw) if raw else None

    def put(self, item: Item, condition: Condition | None = None) -> None:
        self.stats.writes += 1
        request = _Expression().attach({"TableName": self.table_name, "Item": to_dynamo(item)}, condition)
        try:
            self._client.put_item(**request)
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                raise ConditionFailed(str(error)) from error
            raise

    def delete(self, pk: str, sk: str, condition: Condition | None = None) -> None:
        self.stats.writes += 1
        request = _Expression().attach(
            {"TableName": self.table_name, "Key": to_dynamo({"PK": pk, "SK": sk})}, condition
        )
        try:
            self._client.delete_item(**request)
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                raise ConditionFailed(str(error)) from error
            raise

    def transact(self, operations: Iterable[Operation]) -> None:
        ops = list(operations)
        self.stats.transactions += 1
        request = [self._transact_item(op) for op in ops]
        try:
            self._client.transact_write_items(TransactItems=request)
        except ClientError as error:
            if _code(error) != "TransactionCanceledException":
                raise
            reasons = error.response.get("CancellationReasons", [])
            failed = [i for i, r in enumerate(reasons) if r.get("Code") == "ConditionalCheckFailed"]
            if not failed and not reasons:
                failed = list(range(len(ops)))
            raise TransactionCancelled(failed, str(error)) from error

    def _transact_item(self, op: Operation) -> dict[str, Any]:
        expression = _Expression()
        if isinstance(op, Put):
            body = {"TableName": self.table_name, "Item": to_dynamo(op.item)}
            return {"Put": expression.attach(body, op.condition)}
        key = to_dynamo({"PK": op.pk, "SK": op.sk})
        if isinstance(op, Delete):
            return {"Delete": expression.attach({"TableName": self.table_name, "Key": key}, op.condition)}
        if isinstance(op, Check):
            return {
                "ConditionCheck": expression.attach({"TableName": self.table_name, "Key": key}, op.condition)
            }
        raise TypeError(f"unknown operation {op!r}")

    def query(
        self,
        pk: str,
        key_range: KeyRange | None = None,
        *,
        index: str | None = None,
        limit: int | None = None,
        forward: bool = True,
        start_after: Item | None = None,
        consistent: bool = False,
    ) -> QueryPage:
        self.stats.queries += 1
        self.stats.by_partition[pk] = self.stats.by_partition.get(pk, 0) + 1
        pk_name, sk_name = (f"{index}PK", f"{index}SK") if index else ("PK", "SK")
        expression = _Expression()
        condition = f"{expression.name(pk_name)} = {expression.value(pk)}"
        if key_range and key_range.prefix is not None:
            condition += f" AND begins_with({expression.name(sk_name)}, {expression.value(key_range.prefix)})"
        elif key_range and key_range.between is not None:
            low, high = key_range.between
            bounds = f"{expression.value(low)} AND {expression.value(high)}"
            condition += f" AND {expression.name(sk_name)} BETWEEN {bounds}"
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": expression.names,
            "ExpressionAttributeValues": expression.values,
            "ScanIndexForward": forward,
        }
        if index:
            request["IndexName"] = index
        if limit:
            request["Limit"] = limit
        if consistent and not index:
            request["ConsistentRead"] = True
        if start_after:
            request["ExclusiveStartKey"] = to_dynamo(start_after)
        response = self._client.query(**request)
        last = response.get("LastEvaluatedKey")
        return QueryPage(
            items=[from_dynamo(raw) for raw in response.get("Items", [])],
            last_key=from_dynamo(last) if last else None,
        )


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
