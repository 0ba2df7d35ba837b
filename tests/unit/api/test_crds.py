"""The generated CRDs: current on disk, valid CRDs, structural, and in agreement with pydantic."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import kubernetes_validate
import pytest
import yaml

from api.crds import HEADER, crd_for, crd_schema, render_crds
from api.errors import join_path
from api.resources import RESOURCES, ResourceInfo, info_for
from api.validation import parse_resource, validate_resource

ROOT = Path(__file__).resolve().parents[3]
CRD_DIR = ROOT / "charts" / "kubernaut" / "crds"
EXAMPLES = ROOT / "examples"
INFOS = list(RESOURCES.values())
KUBERNETES_VERSION = "1.37"


def ids(info: ResourceInfo) -> str:
    return info.plural


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# --- (a) the files in the chart are what the models generate --------------------------


def test_chart_crds_are_generated_from_the_models() -> None:
    generated = render_crds()
    on_disk = {path.name: path.read_text(encoding="utf-8") for path in CRD_DIR.glob("*.yaml")}
    stale = sorted(name for name in generated if on_disk.get(name) != generated[name])
    extra = sorted(set(on_disk) - set(generated))
    drift = stale + extra
    assert not drift, (
        f"charts/kubernaut/crds is out of date with api/ (stale: {stale}, unexpected: {extra}); "
        "run `make crds`"
    )


def test_generation_is_deterministic_and_parses_back() -> None:
    first = render_crds()
    assert first == render_crds()
    for info in INFOS:
        text = first[f"{info.plural}.kubernaut.ai.yaml"]
        assert text.startswith(HEADER)
        assert "&id" not in text  # no YAML anchors or aliases
        assert yaml.safe_load(text) == crd_for(info)


# --- (b) each is a valid CustomResourceDefinition --------------------------------------


@pytest.mark.parametrize("info", INFOS, ids=ids)
def test_crd_validates_against_the_kubernetes_schema(info: ResourceInfo) -> None:
    kubernetes_validate.validate(crd_for(info), KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("info", INFOS, ids=ids)
def test_crd_names_columns_and_subresources(info: ResourceInfo) -> None:
    crd = crd_for(info)
    assert crd["metadata"]["name"] == f"{info.plural}.kubernaut.ai"
    spec = crd["spec"]
    assert spec["group"] == "kubernaut.ai"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": info.kind,
        "listKind": f"{info.kind}List",
        "plural": info.plural,
        "singular": info.kind.lower(),
        "shortNames": list(info.short_names),
        "categories": ["kubernaut"],
    }
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1"
    assert version["served"] is True
    assert version["storage"] is True
    assert version["subresources"] == {"status": {}}
    schema = version["schema"]["openAPIV3Schema"]
    assert schema["properties"]["metadata"] == {"type": "object"}
    assert {"rule": "self == oldSelf", "message": "spec is immutable"} in schema["properties"][
        "spec"
    ]["x-kubernetes-validations"]
    columns = version["additionalPrinterColumns"]
    assert columns[0]["jsonPath"] == ".status.phase"
    assert columns[-1] == {
        "name": "Age",
        "type": "date",
        "jsonPath": ".metadata.creationTimestamp",
        "description": "Time since creation",
    }
    for column in columns[1:-1]:
        node = schema
        for part in column["jsonPath"].lstrip(".").split("."):
            node = node["properties"][part]
        assert node["type"] == column["type"], column


# --- (c) every schema node is structural ------------------------------------------------


def walk(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    assert isinstance(node, dict), path
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


def structural_problems(schema: dict[str, Any]) -> list[str]:
    problems = []
    for path, node in walk(schema, ""):
        untyped_ok = node.get("x-kubernetes-int-or-string") or node.get(
            "x-kubernetes-preserve-unknown-fields"
        )
        if "type" not in node and not untyped_ok:
            problems.append(f"{path}: no type")
        if "properties" in node and "additionalProperties" in node:
            problems.append(f"{path}: properties and additionalProperties")
        if "$ref" in node or "$defs" in node or "definitions" in node:
            problems.append(f"{path}: reference")
        if node.get("type") == "null":
            problems.append(f"{path}: null type")
        if node.get("nullable") and not path.endswith("{}"):
            # Optional fields are omitted, never null; only a map value may be null.
            problems.append(f"{path}: nullable field")
        for combinator in ("oneOf", "anyOf", "allOf", "not"):
            branches = node.get(combinator, [])
            for branch in branches if isinstance(branches, list) else [branches]:
                for key in ("type", "properties", "items", "additionalProperties"):
                    if key in branch:
                        problems.append(f"{path}: {combinator} branch with {key}")
        if "required" in node:
            missing = set(node["required"]) - set(node.get("properties", {}))
            if missing:
                problems.append(f"{path}: required but undeclared {sorted(missing)}")
        if "default" in node:
            try:
                jsonschema.Draft4Validator(node).validate(node["default"])
            except jsonschema.ValidationError as error:
                problems.append(f"{path}: default does not validate: {error.message}")
        if "title" in node:
            problems.append(f"{path}: title left in")
    return problems


@pytest.mark.parametrize("info", INFOS, ids=ids)
def test_schema_is_structural(info: ResourceInfo) -> None:
    assert structural_problems(crd_schema(info)) == []


def test_structural_checker_catches_violations() -> None:
    bad = {
        "type": "object",
        "properties": {
            "a": {"description": "untyped"},
            "b": {"type": "object", "properties": {}, "additionalProperties": {"type": "string"}},
            "c": {"$ref": "#/x", "type": "object"},
            "d": {"type": "string", "anyOf": [{"type": "string"}]},
            "e": {"type": "integer", "minimum": 0, "default": -1},
        },
    }
    assert structural_problems(bad) == [
        ".a: no type",
        ".b: properties and additionalProperties",
        ".c: reference",
        ".d: anyOf branch with type",
        ".e: default does not validate: -1 is less than the minimum of 0",
    ]


def test_defaults_and_validations_reach_the_schema() -> None:
    spec = crd_schema(info_for("WorkflowExecution"))["properties"]["spec"]
    assert spec["properties"]["executionStrategy"]["default"] == {}
    assert spec["properties"]["executionStrategy"]["properties"]["maxParallel"]["default"] == 3
    step = spec["properties"]["workflowDefinition"]["properties"]["steps"]["items"]
    assert step["properties"]["criticalStep"]["default"] is False
    assert "default" not in step["properties"]["timeout"]
    assert step["properties"]["parameters"]["minProperties"] == 1
    assert step["properties"]["parameters"]["maxProperties"] == 1
    assert step["properties"]["timeout"]["pattern"].startswith("^")
    rr_spec = crd_schema(info_for("RemediationRequest"))["properties"]["spec"]
    assert rr_spec["properties"]["signalFingerprint"]["pattern"] == "^[0-9a-f]{64}$"
    assert rr_spec["properties"]["signalLabels"] == {
        "type": "object",
        "additionalProperties": {"type": "string"},
    }
    status = crd_schema(info_for("RemediationRequest"))["properties"]["status"]
    assert status["properties"]["transitions"]["maxItems"] == 50
    assert "Skipped" in status["properties"]["phase"]["enum"]
    assert status["properties"]["conditions"]["items"]["properties"]["status"]["enum"] == [
        "True",
        "False",
        "Unknown",
    ]


# --- (d) the CRD schema agrees with pydantic on the examples ----------------------------


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = crd_schema(info_for(document["kind"]))
    validator = jsonschema.Draft4Validator(schema)
    return sorted(join_path(error.absolute_path) for error in validator.iter_errors(document))


@pytest.mark.parametrize("path", sorted((EXAMPLES / "valid").glob("*.yaml")), ids=lambda p: p.name)
def test_valid_examples_pass_the_crd_schema_before_and_after_defaults(path: Path) -> None:
    document = load(path)
    assert schema_errors(document) == []
    defaulted = parse_resource(document).model_dump(mode="json", by_alias=True, exclude_none=True)
    assert schema_errors(defaulted) == []


# Invalid examples the API server's schema catches by itself; the rest (action
# pairing, step graph, unknown fields that it would prune, CEL rules) are left
# to the webhook.
SCHEMA_DETECTABLE = {
    "ke-negative-replicas.yaml",
    "rr-fingerprint-not-hex.yaml",
    "wfe-malformed-duration.yaml",
    "wfe-no-parameter-block.yaml",
    "wfe-two-parameter-blocks.yaml",
}


@pytest.mark.parametrize(
    "path", sorted((EXAMPLES / "invalid").glob("*.yaml")), ids=lambda p: p.name
)
def test_crd_schema_never_disagrees_with_pydantic(path: Path) -> None:
    document = load(path)
    outcome = validate_resource(document)
    found = schema_errors(document)
    if path.name in SCHEMA_DETECTABLE:
        assert found == [error.path for error in outcome.errors]
    else:
        assert found == []
