"""CloudFormation YAML: a loader for the short-form intrinsic tags, and a tiny resolver.

``load_template`` turns ``!Ref X`` into ``{"Ref": "X"}``, ``!GetAtt A.B`` into
``{"Fn::GetAtt": ["A", "B"]}``, ``!Sub s`` into ``{"Fn::Sub": s}`` and so on, the same long forms
CloudFormation itself works with, so the rest of the devstack only ever sees plain JSON-shaped data.

``Resolver`` evaluates the intrinsic functions the devstack needs to create resources locally:
``Ref`` (parameters, pseudo parameters, created resources), ``Fn::Sub``, ``Fn::GetAtt``,
``Fn::Join``, ``Fn::Select``, ``Fn::Split``, ``Fn::If`` with ``Conditions``, and ``AWS::NoValue``.
It is deliberately small: anything it cannot resolve raises ``UnresolvedReference`` with the
path of the value, rather than creating a resource with a half-resolved property.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "CfnLoader",
    "Resolver",
    "UnresolvedReference",
    "dependency_order",
    "find_references",
    "load_template",
    "loads_template",
    "parameter_values",
    "pseudo_parameters",
]


class CfnLoader(yaml.SafeLoader):
    """A SafeLoader that understands CloudFormation's ``!Tag`` short forms."""


def _construct_intrinsic(loader: yaml.SafeLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    """Build the long form of one ``!Tag`` node (``tag_suffix`` is the text after ``!``)."""
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - yaml has no other node kinds
        raise yaml.constructor.ConstructorError(
            None, None, f"unexpected node for !{tag_suffix}", node.start_mark
        )

    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        # "!GetAtt Resource.Attribute" - the attribute itself may contain dots (Endpoint.Address).
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def loads_template(text: str) -> dict[str, Any]:
    """Parse CloudFormation YAML (or JSON, which is YAML) text into long-form data."""
    data = yaml.load(text, Loader=CfnLoader)
    if not isinstance(data, dict):
        raise ValueError("a CloudFormation template must be a mapping at the top level")
    return data


def load_template(path: str | Path) -> dict[str, Any]:
    """Read and parse a CloudFormation template file."""
    return loads_template(Path(path).read_text(encoding="utf-8"))


class UnresolvedReference(KeyError):
    """An intrinsic function referred to something the resolver does not know (yet)."""

    def __init__(self, what: str, path: str = "") -> None:
        super().__init__(what)
        self.what = what
        self.path = path

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"cannot resolve {self.what}{where}"


_NO_VALUE = object()  # what AWS::NoValue resolves to: the key or list item disappears
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def find_references(value: Any) -> set[str]:
    """The logical names a value refers to through Ref, Fn::GetAtt and Fn::Sub variables.

    Used to order resource creation (a resource after everything it refers to). Names that turn
    out to be parameters or pseudo parameters are harmless: the caller ignores unknown names.
    """
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if len(node) == 1:
                ((key, arg),) = node.items()
                if key == "Ref" and isinstance(arg, str):
                    found.add(arg)
                elif key == "Fn::GetAtt":
                    target = arg[0] if isinstance(arg, list) and arg else str(arg).partition(".")[0]
                    if isinstance(target, str):
                        found.add(target)
                elif key == "Fn::Sub":
                    template = arg[0] if isinstance(arg, list) else arg
                    explicit = arg[1] if isinstance(arg, list) and len(arg) > 1 else {}
                    if isinstance(template, str):
                        for name in _SUB_VARIABLE.findall(template):
                            if not name.startswith("!") and name.split(".")[0] not in explicit:
                                found.add(name.split(".")[0])
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(value)
    return found


class Resolver:
    """Evaluate CloudFormation intrinsic functions against known values.

    ``refs`` maps a name to what ``Ref`` gives (parameter values, pseudo parameters such as
    ``AWS::Region``, and the physical ids of created resources); ``attributes`` maps
    ``(logical id, attribute)`` to what ``Fn::GetAtt`` gives. Both may grow while resources are
    created (``add_resource``). ``conditions`` holds the template's ``Conditions`` section.
    """

    def __init__(
        self,
        refs: Mapping[str, Any] | None = None,
        attributes: Mapping[tuple[str, str], Any] | None = None,
        conditions: Mapping[str, Any] | None = None,
    ) -> None:
        self.refs: dict[str, Any] = dict(refs or {})
        self.attributes: dict[tuple[str, str], Any] = dict(attributes or {})
        self.conditions: dict[str, Any] = dict(conditions or {})
        self._condition_values: dict[str, bool] = {}

    def add_resource(self, logical_id: str, ref: Any, attributes: Mapping[str, Any] | None = None) -> None:
        """Make a created resource available to Ref and Fn::GetAtt."""
        self.refs[logical_id] = ref
        for name, value in (attributes or {}).items():
            self.attributes[(logical_id, name)] = value

    def resolve(self, value: Any, path: str = "") -> Any:
        """Return ``value`` with every intrinsic function evaluated (raises UnresolvedReference)."""
        result = self._resolve(value, path)
        return None if result is _NO_VALUE else result

    def condition(self, name: str) -> bool:
        """Evaluate a named condition of the template's ``Conditions`` section."""
        if name not in self._condition_values:
            if name not in self.conditions:
                raise UnresolvedReference(f"condition {name!r}")
            self._condition_values[name] = bool(self._resolve(self.conditions[name], f"Conditions.{name}"))
        return self._condition_values[name]

    # -- internals ---------------------------------------------------------------------------

    def _resolve(self, value: Any, path: str) -> Any:
        if isinstance(value, list):
            items = (self._resolve(item, f"{path}[{i}]") for i, item in enumerate(value))
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            function = _FUNCTIONS.get(key)
            if function is not None:
                return function(self, arg, path)
        resolved = {key: self._resolve(item, f"{path}.{key}" if path else key) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _ref(self, arg: Any, path: str) -> Any:
        name = self._resolve(arg, path)
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name not in self.refs:
            raise UnresolvedReference(f"Ref {name}", path)
        return self.refs[name]

    def _get_att(self, arg: Any, path: str) -> Any:
        arg = self._resolve(arg, path)
        logical_id, attribute = (arg if isinstance(arg, list) else str(arg).split(".", 1))[:2]
        key = (str(logical_id), str(attribute))
        if key not in self.attributes:
            raise UnresolvedReference(f"Fn::GetAtt {logical_id}.{attribute}", path)
        return self.attributes[key]

    def _sub(self, arg: Any, path: str) -> str:
        if isinstance(arg, list):
            template, variables = arg[0], self._resolve(arg[1] if len(arg) > 1 else {}, path)
        else:
            template, variables = arg, {}
        if not isinstance(template, str):
            raise UnresolvedReference("Fn::Sub with a non-string template", path)

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is the escape for a literal ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                found = variables[name]
            elif "." in name and tuple(name.split(".", 1)) in self.attributes:
                found = self.attributes[(name.split(".", 1)[0], name.split(".", 1)[1])]
            elif name in self.refs:
                found = self.refs[name]
            else:
                raise UnresolvedReference(f"${{{name}}} in Fn::Sub", path)
            return found if isinstance(found, str) else json.dumps(found)

        return _SUB_VARIABLE.sub(replace, template)

    def _join(self, arg: Any, path: str) -> str:
        delimiter, items = self._resolve(arg, path)
        return str(delimiter).join(str(item) for item in items)

    def _select(self, arg: Any, path: str) -> Any:
        index, items = self._resolve(arg, path)
        return items[int(index)]

    def _split(self, arg: Any, path: str) -> list[str]:
        delimiter, text = self._resolve(arg, path)
        return str(text).split(str(delimiter))

    def _if(self, arg: Any, path: str) -> Any:
        name, when_true, when_false = arg
        return self._resolve(when_true if self.condition(name) else when_false, path)

    def _equals(self, arg: Any, path: str) -> bool:
        left, right = self._resolve(arg, path)
        return bool(left == right)

    def _not(self, arg: Any, path: str) -> bool:
        (inner,) = self._resolve(arg, path)
        return not inner

    def _and(self, arg: Any, path: str) -> bool:
        return all(self._resolve(arg, path))

    def _or(self, arg: Any, path: str) -> bool:
        return any(self._resolve(arg, path))

    def _condition_ref(self, arg: Any, path: str) -> bool:
        return self.condition(str(arg))

    def _to_json_string(self, arg: Any, path: str) -> str:
        return json.dumps(self._resolve(arg, path), separators=(",", ":"))


_FUNCTIONS: dict[str, Any] = {
    "Ref": Resolver._ref,
    "Fn::GetAtt": Resolver._get_att,
    "Fn::Sub": Resolver._sub,
    "Fn::Join": Resolver._join,
    "Fn::Select": Resolver._select,
    "Fn::Split": Resolver._split,
    "Fn::If": Resolver._if,
    "Fn::Equals": Resolver._equals,
    "Fn::Not": Resolver._not,
    "Fn::And": Resolver._and,
    "Fn::Or": Resolver._or,
    "Condition": Resolver._condition_ref,
    "Fn::ToJsonString": Resolver._to_json_string,
}


def pseudo_parameters(region: str, account_id: str, stack_name: str) -> dict[str, Any]:
    """The pseudo parameters (``AWS::Region`` and friends) for a local stack."""
    partition = (
        "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    )
    return {
        "AWS::Region": region,
        "AWS::AccountId": account_id,
        "AWS::Partition": partition,
        "AWS::StackName": stack_name,
        "AWS::StackId": f"arn:{partition}:cloudformation:{region}:{account_id}:stack/{stack_name}/local",
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NotificationARNs": [],
    }


def parameter_values(template: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """Template parameter values: ``given`` over the template's defaults; all must end up set."""
    values: dict[str, Any] = {}
    declared: Mapping[str, Any] = template.get("Parameters") or {}
    missing: list[str] = []
    for name, spec in declared.items():
        if name in given:
            values[name] = given[name]
        elif isinstance(spec, dict) and "Default" in spec:
            values[name] = spec["Default"]
        else:
            missing.append(name)
        if (
            name in values
            and isinstance(spec, dict)
            and str(spec.get("Type", "")).startswith("CommaDelimitedList")
            and isinstance(values[name], str)
        ):
            values[name] = values[name].split(",")
    if missing:
        raise ValueError(f"template parameters without a value: {', '.join(sorted(missing))}")
    unknown = sorted(set(given) - set(declared))
    if unknown:
        raise ValueError(f"unknown template parameters: {', '.join(unknown)}")
    return values


def dependency_order(resources: Mapping[str, Any], names: Iterable[str] | None = None) -> list[str]:
    """Logical ids in an order where each comes after the resources it refers to.

    References come from Ref / Fn::GetAtt / Fn::Sub in Properties and from DependsOn; references
    to names that are not resources are ignored. Ties keep template order. A cycle is an error,
    as it is for CloudFormation.
    """
    order = list(names if names is not None else resources)
    known = set(order)
    needs: dict[str, set[str]] = {}
    for logical_id in order:
        resource = resources[logical_id]
        refs = find_references(resource.get("Properties", {}))
        depends_on = resource.get("DependsOn", [])
        refs.update([depends_on] if isinstance(depends_on, str) else depends_on)
        needs[logical_id] = (refs & known) - {logical_id}

    result: list[str] = []
    placed: set[str] = set()
    while len(result) < len(order):
        ready = [name for name in order if name not in placed and needs[name] <= placed]
        if not ready:
            cycle = sorted(name for name in order if name not in placed)
            raise ValueError(f"circular references between resources: {', '.join(cycle)}")
        result.extend(ready)
        placed.update(ready)
    return result
