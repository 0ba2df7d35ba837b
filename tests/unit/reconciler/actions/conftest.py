"""An in-memory stand-in for the action client, for the executors' unit tests."""

from __future__ import annotations

import builtins
import copy
from collections.abc import Callable
from typing import Any, cast

import jsonpatch
import pytest

from reconciler.actions.base import ActionContext
from reconciler.actions.client import ActionClient
from reconciler.kube import JSON, ApiError, Resource


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


class FakeClient:
    """Objects by (plural, namespace, name); every write is recorded in ``calls``."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], JSON] = {}
        self.calls: list[tuple[Any, ...]] = []
        self.evict_errors: dict[str, list[ApiError]] = {}
        self.logs: dict[tuple[str, str], str] = {}
        self._rv = 0

    def add(self, plural: str, obj: JSON) -> JSON:
        self._rv += 1
        obj = copy.deepcopy(obj)
        obj["metadata"].setdefault("uid", f"uid-{obj['metadata']['name']}")
        obj["metadata"]["resourceVersion"] = str(self._rv)
        key = (plural, obj["metadata"].get("namespace", ""), obj["metadata"]["name"])
        self.objects[key] = obj
        return obj

    def get(self, resource: Resource, namespace: str | None, name: str) -> JSON:
        key = (resource.plural, namespace or "", name)
        if key not in self.objects:
            raise ApiError(404, "NotFound", f'{resource.plural} "{name}" not found')
        return copy.deepcopy(self.objects[key])

    def list(self, resource: Resource, namespace: str | None = None, **query: Any) -> JSON:
        self.calls.append(("list", resource.plural, namespace, query))
        items = [
            copy.deepcopy(obj)
            for (plural, ns, _), obj in sorted(self.objects.items())
            if plural == resource.plural and (namespace is None or ns == namespace)
        ]
        return {"items": items}

    def patch(
        self,
        resource: Resource,
        namespace: str | None,
        name: str,
        patch: Any,
        *,
        patch_type: str = "merge",
        subresource: str = "",
        dry_run: bool = False,
    ) -> JSON:
        self.calls.append(("patch", resource.plural, name, patch, patch_type, subresource, dry_run))
        current = self.get(resource, namespace, name)
        if patch_type == "json":
            updated = jsonpatch.apply_patch(current, patch)
        else:
            updated = _merge(current, patch)
        if not dry_run:
            self.add(resource.plural, updated)
        return cast(JSON, updated)

    def delete(self, resource: Resource, namespace: str | None, name: str, **options: Any) -> JSON:
        self.calls.append(("delete", resource.plural, name, options))
        current = self.get(resource, namespace, name)
        if not options.get("dry_run"):
            del self.objects[(resource.plural, namespace or "", name)]
        return current

    def evict(self, namespace: str, name: str, **options: Any) -> None:
        self.calls.append(("evict", namespace, name, options))
        errors = self.evict_errors.get(name)
        if errors:
            raise errors.pop(0)
        self.delete(Resource("", "v1", "pods", "Pod"), namespace, name, **options)

    def read_log(self, namespace: str, name: str, **query: Any) -> str:
        self.calls.append(("log", namespace, name, query))
        if (namespace, name) not in self.logs:
            raise ApiError(400, "BadRequest", f"container of pod {name} is waiting to start")
        return self.logs[(namespace, name)]

    def writes(self) -> builtins.list[tuple[Any, ...]]:
        return [call for call in self.calls if call[0] != "list" and call[0] != "log"]


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> FakeClient:
    return FakeClient()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


ContextFactory = Callable[..., ActionContext]


@pytest.fixture
def context(fake: FakeClient, clock: FakeClock) -> ContextFactory:
    def make(dry_run: bool = False, timeout: float = 60.0) -> ActionContext:
        return ActionContext(
            client=cast(ActionClient, fake),
            dry_run=dry_run,
            deadline=clock.now + timeout,
            monotonic=clock.monotonic,
            sleep=clock.sleep,
        )

    return make
