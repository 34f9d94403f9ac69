"""Create the stack of ``infra/template.yaml`` in the embedded AWS, from the same definitions.

CloudFormation itself is not used (moto's CloudFormation neither runs the SAM transform nor reads
``DefinitionUri`` files); instead each supported resource type is translated into the API calls
that create it, in dependency order, with intrinsic functions evaluated by
``devstack.aws.cfn_yaml.Resolver``. What a resource is called locally follows the template
(``TableName``, ``FunctionName``, ``Name`` ...) or, where the template leaves the name to
CloudFormation, ``<stack>-<LogicalId>`` with stack ``matterline-<stage>``.

Every step is idempotent: running ``create_resources`` against a server that already has the
resources (a restarted devstack, a second call) updates what can be updated in place (function
configuration, state machine definition, queue attributes) and leaves the rest alone.

Supported types: AWS::DynamoDB::Table, AWS::SQS::Queue, AWS::S3::Bucket, AWS::KMS::Key,
AWS::KMS::Alias, AWS::SES::ConfigurationSet, AWS::SES::EmailIdentity, AWS::IAM::Role,
AWS::Serverless::Function / AWS::Lambda::Function (with SAM ``Events`` of type SQS and DynamoDB),
AWS::Lambda::EventSourceMapping, AWS::Serverless::StateMachine / AWS::StepFunctions::StateMachine.
Others are skipped with a warning (``CreatedResources.skipped``); a Ref to one gives a placeholder.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from devstack.aws.cfn_yaml import (
    Resolver,
    UnresolvedReference,
    dependency_order,
    load_template,
    parameter_values,
    pseudo_parameters,
)

__all__ = [
    "LOCAL_PARAMETER_DEFAULTS",
    "CreatedResource",
    "CreatedResources",
    "ResourceCreationError",
    "create_resources",
]

logger = logging.getLogger(__name__)

# Template parameters that have no default in the template (production must choose them) but have
# an obvious local value.
LOCAL_PARAMETER_DEFAULTS: dict[str, str] = {"SenderAddress": "noreply@matterline.test"}

_LAMBDA_ROLE = "matterline-local-lambda"
_STATES_ROLE = "matterline-local-states"
_KEY_TAG = "matterline:logical-id"


class _Aws(Protocol):
    """What create_resources needs of EmbeddedAws (kept structural for tests and tools)."""

    region: str
    account_id: str

    def client(self, service: str, **kwargs: Any) -> Any: ...


class ResourceCreationError(RuntimeError):
    """A resource of the template could not be created; the message names it."""


@dataclass
class CreatedResource:
    """One created resource: what ``Ref`` gives, and its ``Fn::GetAtt`` attributes."""

    logical_id: str
    type: str
    ref: str
    attributes: dict[str, str] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        """The resource's ARN (``Ref`` for state machines, ``GetAtt Arn`` for the others)."""
        if "Arn" in self.attributes:
            return self.attributes["Arn"]
        if self.ref.startswith("arn:"):
            return self.ref
        raise KeyError(f"{self.logical_id} ({self.type}) has no ARN")

    @property
    def name(self) -> str:
        """The resource's physical name (queue name, table name, function name, ...)."""
        for key in ("Name", "QueueName", "FunctionName", "TableName", "BucketName"):
            if key in self.attributes:
                return self.attributes[key]
        return self.ref


@dataclass
class CreatedResources:
    """The stack as created locally, by logical id."""

    stack_name: str
    stage: str
    region: str
    account_id: str
    parameters: dict[str, Any]
    resources: dict[str, CreatedResource] = field(default_factory=dict)
    # Globals.Function.Environment.Variables, resolved: the settings every function gets in AWS;
    # the devstack gives the same to the Chalice app it runs locally.
    environment: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def __getitem__(self, logical_id: str) -> CreatedResource:
        return self.resources[logical_id]

    def ref(self, logical_id: str) -> str:
        """What ``!Ref LogicalId`` gives (table name, queue URL, function name, state machine ARN)."""
        return self.resources[logical_id].ref

    def arn(self, logical_id: str) -> str:
        """The ARN of a created resource."""
        return self.resources[logical_id].arn

    def of_type(self, resource_type: str) -> dict[str, CreatedResource]:
        """The created resources of one CloudFormation type, by logical id."""
        return {lid: res for lid, res in self.resources.items() if res.type == resource_type}

    @property
    def table_names(self) -> list[str]:
        """Names of every DynamoDB table (what devstack.aws.snapshot saves and loads)."""
        return [res.ref for res in self.of_type("AWS::DynamoDB::Table").values()]

    @property
    def state_machine_arns(self) -> dict[str, str]:
        """State machine ARNs by logical id."""
        return {
            lid: res.ref
            for lid, res in self.resources.items()
            if res.type in ("AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine")
        }

    @property
    def function_names(self) -> dict[str, str]:
        """Lambda function names by logical id."""
        return {
            lid: res.ref
            for lid, res in self.resources.items()
            if res.type in ("AWS::Serverless::Function", "AWS::Lambda::Function")
        }


def create_resources(
    aws: _Aws,
    template_path: str | Path,
    stage: str = "local",
    parameters: Mapping[str, Any] | None = None,
    *,
    handler_overrides: Mapping[str, str] | None = None,
) -> CreatedResources:
    """Create (or bring up to date) every supported resource of the template in ``aws``.

    ``parameters`` override template parameters (``Stage`` is ``stage``); ``handler_overrides``
    replaces the ``Handler`` of functions by logical id (tests run fixture handlers this way).
    Raises ``ResourceCreationError`` naming the resource that failed.
    """
    template_path = Path(template_path)
    template = load_template(template_path)
    given = dict(parameters or {})
    declared = template.get("Parameters") or {}
    if "Stage" in declared:
        if given.get("Stage", stage) != stage:
            raise ValueError(f"parameters['Stage']={given['Stage']!r} contradicts stage={stage!r}")
        given["Stage"] = stage
    for name, value in LOCAL_PARAMETER_DEFAULTS.items():
        spec = declared.get(name)
        if spec is not None and name not in given and "Default" not in spec:
            given[name] = value
    values = parameter_values(template, given)

    stack_name = f"matterline-{stage}"
    resolver = Resolver(
        refs={**pseudo_parameters(aws.region, aws.account_id, stack_name), **values},
        conditions=template.get("Conditions") or {},
    )
    created = CreatedResources(
        stack_name=stack_name, stage=stage, region=aws.region, account_id=aws.account_id, parameters=values
    )
    builder = _Builder(
        aws, template_path.parent, stack_name, resolver, created, dict(handler_overrides or {})
    )

    resources: dict[str, Any] = template.get("Resources") or {}
    function_globals = ((template.get("Globals") or {}).get("Function")) or {}
    expanded = {
        lid: _with_globals(res, function_globals) if res.get("Type") == "AWS::Serverless::Function" else res
        for lid, res in resources.items()
    }
    unknown_overrides = set(builder.handler_overrides) - set(expanded)
    if unknown_overrides:
        raise ValueError(f"handler_overrides for unknown resources: {', '.join(sorted(unknown_overrides))}")

    for logical_id in dependency_order(expanded):
        resource = expanded[logical_id]
        condition = resource.get("Condition")
        if condition is not None and not resolver.condition(condition):
            continue
        try:
            builder.build(logical_id, resource)
        except (ClientError, UnresolvedReference, ValueError, OSError, KeyError) as exc:
            raise ResourceCreationError(f"{logical_id} ({resource.get('Type')}): {exc}") from exc

    variables = (function_globals.get("Environment") or {}).get("Variables") or {}
    created.environment = _resolve_leniently(resolver, variables, "Globals.Function.Environment.Variables")
    for name, output in (template.get("Outputs") or {}).items():
        try:
            created.outputs[name] = resolver.resolve(output.get("Value"), f"Outputs.{name}")
        except UnresolvedReference as exc:
            logger.warning("output %s not resolved locally: %s", name, exc)
    return created


# ----------------------------------------------------------------------------------------------


def _with_globals(resource: Mapping[str, Any], function_globals: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's Globals semantics for one function: maps merge, the function's own values win."""
    merged = copy.deepcopy(dict(resource))
    merged["Properties"] = _merge(copy.deepcopy(dict(function_globals)), merged.get("Properties") or {})
    return merged


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict) and not _is_intrinsic(value):
            base[key] = _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def _is_intrinsic(value: Mapping[str, Any]) -> bool:
    return len(value) == 1 and next(iter(value)).startswith(("Fn::", "Ref", "Condition"))


def _resolve_leniently(resolver: Resolver, variables: Mapping[str, Any], path: str) -> dict[str, str]:
    """Resolve environment variables one by one; one that cannot be resolved locally is dropped."""
    result: dict[str, str] = {}
    for name, value in variables.items():
        try:
            resolved = resolver.resolve(value, f"{path}.{name}")
        except UnresolvedReference as exc:
            logger.warning("environment variable %s left out: %s", name, exc)
            continue
        if resolved is not None:
            result[name] = _environment_value(resolved)
    return result


def _environment_value(value: Any) -> str:
    """An environment variable's value as CloudFormation passes it (YAML true → "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _dummy_zip() -> bytes:
    """Lambda code for moto: never run (the bridge imports the handler from this process)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "README.txt", "The devstack runs this function's handler in-process (devstack.aws.bridge).\n"
        )
    return buffer.getvalue()


class _Builder:
    """Creates resources one by one, registering each with the resolver as it goes."""

    def __init__(
        self,
        aws: _Aws,
        template_dir: Path,
        stack_name: str,
        resolver: Resolver,
        created: CreatedResources,
        handler_overrides: dict[str, str],
    ) -> None:
        self.aws = aws
        self.template_dir = template_dir
        self.stack_name = stack_name
        self.resolver = resolver
        self.created = created
        self.handler_overrides = handler_overrides
        self._clients: dict[str, Any] = {}
        self._roles: dict[str, str] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.aws.client(service)
        return self._clients[service]

    def build(self, logical_id: str, resource: Mapping[str, Any]) -> None:
        resource_type = str(resource.get("Type"))
        method = _BUILDERS.get(resource_type)
        if method is None:
            reason = f"{resource_type} is not created by the devstack"
            logger.warning("skipping %s: %s", logical_id, reason)
            self.created.skipped[logical_id] = reason
            self.resolver.add_resource(logical_id, f"local-placeholder-{logical_id}")
            return
        properties = self.resolver.resolve(
            resource.get("Properties") or {}, f"Resources.{logical_id}.Properties"
        )
        result = method(self, logical_id, properties, resource)
        self.created.resources[logical_id] = result
        self.resolver.add_resource(logical_id, result.ref, result.attributes)
        logger.debug("created %s %s -> %s", resource_type, logical_id, result.ref)

    def default_name(self, logical_id: str, limit: int = 64) -> str:
        return f"{self.stack_name}-{logical_id}"[:limit]

    # -- IAM -----------------------------------------------------------------------------------

    def service_role(self, role_name: str, service: str) -> str:
        """A role the service may assume (moto checks the role exists, not what it allows)."""
        if role_name in self._roles:
            return self._roles[role_name]
        trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
        }
        self._roles[role_name] = self._ensure_role(role_name, trust, "/")
        return self._roles[role_name]

    def _ensure_role(self, role_name: str, trust: Any, path: str) -> str:
        iam = self.client("iam")
        try:
            role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(trust), Path=path)
        except ClientError as exc:
            if _error_code(exc) != "EntityAlreadyExists":
                raise
            role = iam.get_role(RoleName=role_name)
        return str(role["Role"]["Arn"])

    def iam_role(self, logical_id: str, props: dict[str, Any], _: Mapping[str, Any]) -> CreatedResource:
        name = props.get("RoleName") or self.default_name(logical_id)
        trust = props.get("AssumeRolePolicyDocument") or {}
        arn = self._ensure_role(name, trust, props.get("Path", "/"))
        return CreatedResource(logical_id, "AWS::IAM::Role", name, {"Arn": arn, "RoleName": name})

    # -- DynamoDB ------------------------------------------------------------------------------

    def dynamodb_table(self, logical_id: str, props: dict[str, Any], _: Mapping[str, Any]) -> CreatedResource:
        ddb = self.client("dynamodb")
        name = props.get("TableName") or self.default_name(logical_id, 255)
        kwargs = _table_kwargs(name, props)
        try:
            ddb.create_table(**kwargs)
        except ClientError as exc:
            if _error_code(exc) != "ResourceInUseException":
                raise
            logger.debug("table %s already exists", name)
        ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})

        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            # Accepted and reported by moto, but moto never deletes expired items.
            current = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            if current.get("TimeToLiveStatus") != "ENABLED":
                ddb.update_time_to_live(
                    TableName=name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                )
        pitr = props.get("PointInTimeRecoverySpecification")
        if pitr and pitr.get("PointInTimeRecoveryEnabled"):
            try:
                ddb.update_continuous_backups(
                    TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
                )
            except ClientError as exc:  # only a record locally; never worth failing the devstack
                logger.info("point-in-time recovery not applied to %s: %s", name, exc)

        description = ddb.describe_table(TableName=name)["Table"]
        attributes = {"Arn": description["TableArn"], "TableName": name}
        if description.get("LatestStreamArn"):
            attributes["StreamArn"] = description["LatestStreamArn"]
        return CreatedResource(logical_id, "AWS::DynamoDB::Table", name, attributes)

    # -- SQS -----------------------------------------------------------------------------------

    def sqs_queue(self, logical_id: str, props: dict[str, Any], _: Mapping[str, Any]) -> CreatedResource:
        sqs = self.client("sqs")
        fifo = str(props.get("FifoQueue", "false")).lower() == "true"
        name = props.get("QueueName") or self.default_name(logical_id, 75 if fifo else 80)
        if fifo and not name.endswith(".fifo"):
            name += ".fifo"
        attributes = _queue_attributes(props)
        try:
            url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        except ClientError as exc:
            if _error_code(exc) not in ("QueueAlreadyExists", "QueueNameExists"):
                raise
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
            settable = {k: v for k, v in attributes.items() if k != "FifoQueue"}
            if settable:
                sqs.set_queue_attributes(QueueUrl=url, Attributes=settable)
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return CreatedResource(
            logical_id, "AWS::SQS::Queue", url, {"Arn": arn, "QueueName": name, "QueueUrl": url}
        )

    # -- S3 ------------------------------------------------------------------------------------

    def s3_bucket(self, logical_id: str, props: dict[str, Any], _: Mapping[str, Any]) -> CreatedResource:
        s3 = self.client("s3")
        name = props.get("BucketName") or self.default_name(logical_id, 63).lower()
        kwargs: dict[str, Any] = {"Bucket": name}
        if self.aws.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": self.aws.region}
        try:
            s3.create_bucket(**kwargs)
        except ClientError as exc:
            if _error_code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        partition = self.resolver.refs["AWS::Partition"]
        return CreatedResource(
            logical_id,
            "AWS::S3::Bucket",
            name,
            {
                "Arn": f"arn:{partition}:s3:::{name}",
                "BucketName": name,
                "DomainName": f"{name}.s3.amazonaws.com",
                "RegionalDomainName": f"{name}.s3.{self.aws.region}.amazonaws.com",
            },
        )

    # -- KMS -----------------------------------------------------------------------------------

    def kms_key(self, logical_id: str, props: dict[str, Any], _: Mapping[str, Any]) -> CreatedResource:
        # Keys have no name: find ours again by a tag carrying the stack and logical id.
        kms = self.client("kms")
        marker = f"{self.stack_name}/{logical_id}"
        key_id = self._find_key(marker)
        if key_id is None:
            kwargs: dict[str, Any] = {
                "Description": props.get("Description", ""),
                "KeyUsage": props.get("KeyUsage", "ENCRYPT_DECRYPT"),
                "KeySpec": props.get("KeySpec", "SYMMETRIC_DEFAULT"),
                "Tags": [{"TagKey": _KEY_TAG, "TagValue": marker}]
                + [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in props.get("Tags", [])],
            }
            if props.get("KeyPolicy"):
                policy = props["KeyPolicy"]
                kwargs["Policy"] = policy if isinstance(policy, str) else json.dumps(policy)
            key_id = str(kms.create_key(**kwargs)["KeyMetadata"]["KeyId"])
            if props.get("EnableKeyRotation"):
                kms.enable_key_rotation(KeyId=key_id)
        arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        return CreatedResource(logical_id, "AWS::KMS::Key", key_id, {"Arn": arn, "KeyId": key_id})

    def _find_key(self, marker: str) -> str | None:
        kms = self.client("kms")
        for page in kms.get_paginator("list_keys").paginate():
            for key in page["Keys"]:
                tags = kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])
                if any(t["TagKey"] == _KEY_TAG and t["TagValue"] == marker for t in tags):
                    state = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"].get("KeyState")
                    if state not in ("PendingDeletion", "PendingReplicaDeletion"):
                        return str(key["KeyId"])
        return None

    def kms_alias(self, logical_id: str, props: dict[str, Any], _: Mapping[str, Any]) -> CreatedResource:
        kms = self.client("kms")
        name, target = props["AliasName"], props["TargetKeyId"]
        try:
            kms.create_alias(AliasName=name, TargetKeyId=target)
        except ClientError as exc:
            if _error_code(exc) != "AlreadyExistsException":
                raise
            kms.update_alias(AliasName=name, TargetKeyId=target)
        return CreatedResource(logical_id, "AWS::KMS::Alias", name, {"AliasName": name})

    # -- SES -----------------------------------------------------------------------------------

    def ses_configuration_set(
        self, logical_id: str, props: dict[str, Any], _: Mapping[str, Any]
    ) -> CreatedResource:
        name = props.get("Name") or self.default_name(logical_id)
        try:
            self.client("sesv2").create_configuration_set(ConfigurationSetName=name)
        except ClientError as exc:
            # AWS says AlreadyExistsException, moto ConfigurationSetAlreadyExistsException.
            if "AlreadyExists" not in _error_code(exc):
                raise
        return CreatedResource(logical_id, "AWS::SES::ConfigurationSet", name, {"Name": name})

    def ses_email_identity(
        self, logical_id: str, props: dict[str, Any], _: Mapping[str, Any]
    ) -> CreatedResource:
        # moto verifies identities at once; verifying again is harmless (idempotent).
        identity = str(props["EmailIdentity"])
        ses = self.client("ses")
        if "@" in identity:
            ses.verify_email_identity(EmailAddress=identity)
        else:
            ses.verify_domain_identity(Domain=identity)
        return CreatedResource(logical_id, "AWS::SES::EmailIdentity", identity, {"Name": identity})

    # -- Lambda --------------------------------------------------------------------------------

    def lambda_function(
        self, logical_id: str, props: dict[str, Any], resource: Mapping[str, Any]
    ) -> CreatedResource:
        lam = self.client("lambda")
        resource_type = str(resource["Type"])
        name = props.get("FunctionName") or self.default_name(logical_id)
        handler = self.handler_overrides.get(logical_id) or props.get("Handler")
        if not handler:
            raise ValueError("a function needs a Handler")
        role = props.get("Role")
        if not (isinstance(role, str) and role.startswith("arn:")):
            role = self.service_role(_LAMBDA_ROLE, "lambda.amazonaws.com")
        variables = {
            str(k): _environment_value(v)
            for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()
        }
        configuration: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": props.get("Runtime", "python3.11"),
            "Role": role,
            "Handler": handler,
            "Description": props.get("Description", ""),
            "Timeout": int(props.get("Timeout", 3)),
            "MemorySize": int(props.get("MemorySize", 128)),
            "Environment": {"Variables": variables},
        }
        try:
            response = lam.create_function(
                **configuration, Code={"ZipFile": _dummy_zip()}, PackageType="Zip", Publish=False
            )
        except ClientError as exc:
            if _error_code(exc) != "ResourceConflictException":
                raise
            response = lam.update_function_configuration(**configuration)
        arn = str(response["FunctionArn"])
        result = CreatedResource(logical_id, resource_type, name, {"Arn": arn, "FunctionName": name})

        # SAM event sources that are real AWS plumbing; Schedule / Api events are the devstack's.
        for event_name, event in (props.get("Events") or {}).items():
            kind, event_props = event.get("Type"), event.get("Properties") or {}
            if kind == "SQS":
                source = event_props["Queue"]
            elif kind in ("DynamoDB", "Kinesis"):
                source = event_props["Stream"]
            else:
                logger.debug("event %s of %s (%s) is not wired locally", event_name, logical_id, kind)
                continue
            self._ensure_event_source_mapping(name, source, event_props)
        return result

    def event_source_mapping(
        self, logical_id: str, props: dict[str, Any], _: Mapping[str, Any]
    ) -> CreatedResource:
        uuid = self._ensure_event_source_mapping(props["FunctionName"], props["EventSourceArn"], props)
        return CreatedResource(logical_id, "AWS::Lambda::EventSourceMapping", uuid, {"Id": uuid})

    def _ensure_event_source_mapping(self, function: str, source_arn: str, props: Mapping[str, Any]) -> str:
        lam = self.client("lambda")
        function_name = function.split(":function:")[-1].split(":")[0]
        for mapping in lam.list_event_source_mappings(EventSourceArn=source_arn).get(
            "EventSourceMappings", []
        ):
            if str(mapping.get("FunctionArn", "")).split(":function:")[-1].split(":")[0] == function_name:
                return str(mapping["UUID"])
        kwargs: dict[str, Any] = {
            "FunctionName": function,
            "EventSourceArn": source_arn,
            "Enabled": bool(props.get("Enabled", True)),
        }
        if "BatchSize" in props:
            kwargs["BatchSize"] = int(props["BatchSize"])
        if "StartingPosition" in props:
            kwargs["StartingPosition"] = props["StartingPosition"]
        elif ":dynamodb:" in source_arn or ":kinesis:" in source_arn:
            kwargs["StartingPosition"] = "LATEST"
        if "FunctionResponseTypes" in props:
            kwargs["FunctionResponseTypes"] = list(props["FunctionResponseTypes"])
        return str(lam.create_event_source_mapping(**kwargs)["UUID"])

    # -- Step Functions ------------------------------------------------------------------------

    def state_machine(
        self, logical_id: str, props: dict[str, Any], resource: Mapping[str, Any]
    ) -> CreatedResource:
        sfn = self.client("stepfunctions")
        resource_type = str(resource["Type"])
        name = props.get("Name") or props.get("StateMachineName") or self.default_name(logical_id, 80)
        definition = self._definition(props)
        role = props.get("Role") or props.get("RoleArn")
        if not (isinstance(role, str) and role.startswith("arn:")):
            role = self.service_role(_STATES_ROLE, "states.amazonaws.com")

        existing = None
        for page in sfn.get_paginator("list_state_machines").paginate():
            for machine in page["stateMachines"]:
                if machine["name"] == name:
                    existing = machine["stateMachineArn"]
        if existing is None:
            arn = sfn.create_state_machine(
                name=name,
                definition=definition,
                roleArn=role,
                type=props.get("Type") or props.get("StateMachineType") or "STANDARD",
            )["stateMachineArn"]
        else:
            sfn.update_state_machine(stateMachineArn=existing, definition=definition, roleArn=role)
            arn = existing
        return CreatedResource(logical_id, resource_type, arn, {"Arn": arn, "Name": name})

    def _definition(self, props: Mapping[str, Any]) -> str:
        if isinstance(props.get("DefinitionUri"), str):
            text = (self.template_dir / props["DefinitionUri"]).read_text(encoding="utf-8")
        elif isinstance(props.get("Definition"), Mapping):
            text = json.dumps(props["Definition"])
        elif isinstance(props.get("DefinitionString"), str):
            text = props["DefinitionString"]
        else:
            raise ValueError(
                "a state machine needs DefinitionUri (a local file), Definition or DefinitionString"
            )
        for key, value in (props.get("DefinitionSubstitutions") or {}).items():
            text = text.replace("${" + key + "}", str(value))
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"the state machine definition is not valid JSON after substitutions: {exc}"
            ) from exc
        return text


def _table_kwargs(name: str, props: Mapping[str, Any]) -> dict[str, Any]:
    """AWS::DynamoDB::Table properties → dynamodb.create_table arguments."""
    billing = props.get("BillingMode", "PROVISIONED")
    kwargs: dict[str, Any] = {
        "TableName": name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": billing,
    }

    def throughput(spec: Mapping[str, Any]) -> dict[str, int]:
        given = spec.get("ProvisionedThroughput") or {}
        return {
            "ReadCapacityUnits": int(given.get("ReadCapacityUnits", 5)),
            "WriteCapacityUnits": int(given.get("WriteCapacityUnits", 5)),
        }

    if billing == "PROVISIONED":
        kwargs["ProvisionedThroughput"] = throughput(props)
    if props.get("GlobalSecondaryIndexes"):
        indexes = []
        for index in props["GlobalSecondaryIndexes"]:
            entry = {k: index[k] for k in ("IndexName", "KeySchema", "Projection")}
            if billing == "PROVISIONED":
                entry["ProvisionedThroughput"] = throughput(index)
            indexes.append(entry)
        kwargs["GlobalSecondaryIndexes"] = indexes
    if props.get("LocalSecondaryIndexes"):
        kwargs["LocalSecondaryIndexes"] = [
            {k: index[k] for k in ("IndexName", "KeySchema", "Projection")}
            for index in props["LocalSecondaryIndexes"]
        ]
    stream = props.get("StreamSpecification")
    if stream:
        kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    sse = props.get("SSESpecification")
    if sse:
        spec: dict[str, Any] = {"Enabled": bool(sse.get("SSEEnabled", False))}
        if sse.get("SSEType"):
            spec["SSEType"] = sse["SSEType"]
        if sse.get("KMSMasterKeyId"):
            spec["KMSMasterKeyId"] = sse["KMSMasterKeyId"]
        kwargs["SSESpecification"] = spec
    if props.get("Tags"):
        kwargs["Tags"] = props["Tags"]
    if "DeletionProtectionEnabled" in props:
        kwargs["DeletionProtectionEnabled"] = bool(props["DeletionProtectionEnabled"])
    return kwargs


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
)


def _queue_attributes(props: Mapping[str, Any]) -> dict[str, str]:
    """AWS::SQS::Queue properties → SQS queue attributes (all strings; policies as JSON)."""
    attributes: dict[str, str] = {}
    for key in _QUEUE_ATTRIBUTES:
        if key in props:
            value = props[key]
            attributes[key] = str(value).lower() if isinstance(value, bool) else str(value)
    for key in ("RedrivePolicy", "RedriveAllowPolicy"):
        if key in props:
            value = props[key]
            attributes[key] = value if isinstance(value, str) else json.dumps(value)
    return attributes


_BUILDERS: dict[str, Any] = {
    "AWS::IAM::Role": _Builder.iam_role,
    "AWS::DynamoDB::Table": _Builder.dynamodb_table,
    "AWS::SQS::Queue": _Builder.sqs_queue,
    "AWS::S3::Bucket": _Builder.s3_bucket,
    "AWS::KMS::Key": _Builder.kms_key,
    "AWS::KMS::Alias": _Builder.kms_alias,
    "AWS::SES::ConfigurationSet": _Builder.ses_configuration_set,
    "AWS::SES::EmailIdentity": _Builder.ses_email_identity,
    "AWS::Serverless::Function": _Builder.lambda_function,
    "AWS::Lambda::Function": _Builder.lambda_function,
    "AWS::Lambda::EventSourceMapping": _Builder.event_source_mapping,
    "AWS::Serverless::StateMachine": _Builder.state_machine,
    "AWS::StepFunctions::StateMachine": _Builder.state_machine,
}
