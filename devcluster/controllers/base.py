"""What every simulated controller shares: its identity, the clock, lookups."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from devcluster.admission import UserInfo
from devcluster.errors import ApiError
from devcluster.resources import ResourceType
from devcluster.store import JsonObject, Store

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def controller_user(name: str) -> UserInfo:
    """The identity the kube-controller-manager's ``name`` controller writes with."""
    return UserInfo(
        f"system:serviceaccount:kube-system:{name}",
        ("system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"),
    )


def resource(store: Store, group: str, plural: str) -> ResourceType:
    rtype = store.registry.lookup(group, "v1", plural)
    if rtype is None:
        raise LookupError(f"the store does not serve {plural}.{group or 'core'}")
    return rtype


def get_or_none(store: Store, rtype: ResourceType, namespace: str, name: str) -> JsonObject | None:
    try:
        return store.get(rtype, namespace, name)
    except ApiError as err:
        if err.code == 404:
            return None
        raise


def ignore_gone(action: Callable[[], object]) -> None:
    """Run a write whose target may have gone (404) or been taken already (409)."""
    try:
        action()
    except ApiError as err:
        if err.code not in (404, 409):
            raise


def deleting(obj: JsonObject) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def controller_owner(obj: JsonObject) -> tuple[str, str] | None:
    """``(kind, name)`` of the object's controller owner."""
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("kind", "")), str(ref.get("name", ""))
    return None
