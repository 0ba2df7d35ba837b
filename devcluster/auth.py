"""Authentication (bearer tokens, impersonation) and a simple, configurable authorizer.

Tokens map to users. ``kubectl`` (client-go) does not send bearer tokens over
plain HTTP, so a request without credentials is authenticated as ``anonymous``,
which defaults to the kubeconfig's ``dev-admin`` identity (set it to
:data:`ANONYMOUS` for the real server's ``system:anonymous``). The authorizer
allows everything (``rules=None``, the default) or evaluates a rule list like
RBAC's PolicyRules; members of ``system:masters`` are always allowed, and every
user may create self-reviews (as RBAC's ``system:basic-user`` grants).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from devcluster import errors
from devcluster.admission import UserInfo

ADMIN_TOKEN = "dev-admin"  # noqa: S105 - the documented development token
ADMIN_USER = UserInfo("dev-admin", ("system:masters", "system:authenticated"))
ANONYMOUS = UserInfo("system:anonymous", ("system:unauthenticated",))
_SELF_REVIEWS = frozenset(
    {"selfsubjectreviews", "selfsubjectaccessreviews", "selfsubjectrulesreviews"}
)


@dataclass(frozen=True)
class Rule:
    """Allow ``verbs`` on ``resources`` of ``api_groups`` to ``users``/``groups`` ("*" = any)."""

    verbs: tuple[str, ...]
    resources: tuple[str, ...] = ("*",)
    api_groups: tuple[str, ...] = ("*",)
    namespaces: tuple[str, ...] = ("*",)
    users: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def allows(self, user: UserInfo, attributes: RequestAttributes) -> bool:
        if user.username not in self.users and not set(user.groups) & set(self.groups):
            return False
        resource = (
            f"{attributes.resource}/{attributes.subresource}"
            if attributes.subresource
            else attributes.resource
        )
        return (
            _matches(self.verbs, attributes.verb)
            and _matches(self.api_groups, attributes.group)
            and _matches(self.resources, resource)
            and (not attributes.namespace or _matches(self.namespaces, attributes.namespace))
        )


def _matches(allowed: Sequence[str], value: str) -> bool:
    return "*" in allowed or value in allowed


@dataclass(frozen=True)
class RequestAttributes:
    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""


@dataclass
class AuthConfig:
    tokens: dict[str, UserInfo] = field(default_factory=lambda: {ADMIN_TOKEN: ADMIN_USER})
    rules: list[Rule] | None = None
    anonymous: UserInfo = ADMIN_USER

    def authenticate(self, authorization: str | None) -> UserInfo:
        if not authorization:
            return self.anonymous
        scheme, _, token = authorization.partition(" ")
        user = self.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise errors.unauthorized()
        return user

    def review_token(self, token: str) -> UserInfo | None:
        return self.tokens.get(token)

    def allowed(self, user: UserInfo, attributes: RequestAttributes) -> bool:
        if self.rules is None or "system:masters" in user.groups:
            return True
        if attributes.verb == "create" and attributes.resource in _SELF_REVIEWS:
            return True
        return any(rule.allows(user, attributes) for rule in self.rules)

    def authorize(self, user: UserInfo, attributes: RequestAttributes) -> None:
        if self.allowed(user, attributes):
            return
        where = f' in the namespace "{attributes.namespace}"' if attributes.namespace else ""
        scope = "" if attributes.namespace else " at the cluster scope"
        resource = (
            f"{attributes.resource}/{attributes.subresource}"
            if attributes.subresource
            else attributes.resource
        )
        message = (
            f'User "{user.username}" cannot {attributes.verb} resource "{resource}" '
            f'in API group "{attributes.group}"{where or scope}'
        )
        raise errors.forbidden(attributes.group, attributes.resource, attributes.name, message)

    def impersonate(self, user: UserInfo, headers: Mapping[str, list[str]]) -> UserInfo:
        """Apply ``Impersonate-User``/``-Group``/``-Uid``/``-Extra-*`` headers, if allowed."""
        names = headers.get("impersonate-user") or []
        groups = headers.get("impersonate-group") or []
        extra = {
            key[len("impersonate-extra-") :]: tuple(values)
            for key, values in headers.items()
            if key.startswith("impersonate-extra-")
        }
        if not names:
            if groups or extra:
                raise errors.bad_request(
                    "requested impersonation of groups or extra without a user"
                )
            return user
        name = names[0]
        self.authorize(user, RequestAttributes("impersonate", "", "users", name=name))
        for group in groups:
            self.authorize(user, RequestAttributes("impersonate", "", "groups", name=group))
        implicit = ("system:authenticated",) if name != ANONYMOUS.username else ()
        uid = (headers.get("impersonate-uid") or [""])[0]
        return UserInfo(name, tuple(dict.fromkeys((*groups, *implicit))), uid, extra)
