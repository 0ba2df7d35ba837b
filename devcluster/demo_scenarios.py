"""The demo's scenarios, played through a :class:`~devcluster.demo_session.Session`.

Each scenario narrates what it does, runs kubectl, follows the remediation
and checks the outcome against what the policies and the workflow catalog
promise (not against what the code happened to do): the checks decide the
demo's exit code.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from devcluster import demo_manifests as m
from devcluster.demo_session import ScenarioResult, Session

JSON = dict[str, Any]
STAGING = "shop-staging"
PRODUCTION = "shop-production"
RESTARTED_AT = "kubectl.kubernetes.io/restartedAt"
APPROVED_BY = "kubernaut.ai/approved-by"
APPROVED_AT = "kubernaut.ai/approved-at"


def _status(obj: JSON | None) -> JSON:
    return dict((obj or {}).get("status") or {})


def _phase(obj: JSON | None) -> str:
    return str(_status(obj).get("phase") or "(none)")


def _deployment(session: Session, namespace: str, name: str) -> JSON | None:
    return session.get("apps", "v1", "deployments", namespace, name)


def _ready(session: Session, namespace: str, name: str) -> int:
    return int(_status(_deployment(session, namespace, name)).get("readyReplicas") or 0)


def _replicas(session: Session, namespace: str, name: str) -> int:
    deployment = _deployment(session, namespace, name) or {}
    return int((deployment.get("spec") or {}).get("replicas") or 0)


def _restarts(session: Session, namespace: str, app: str) -> int:
    """Container restarts of the app's pods (the crash loop shows in them)."""
    return sum(
        int(status.get("restartCount") or 0)
        for pod in session.objects("", "v1", "pods", namespace, f"app={app}")
        for status in (pod.get("status") or {}).get("containerStatuses") or []
    )


def _notification(session: Session, namespace: str, name: str) -> JSON | None:
    return session.kubernaut("notificationrequests", namespace, name)


def setup(session: Session) -> None:
    session.heading("The shop")
    session.say(
        f"""Two namespaces, labelled with their environment: {STAGING} (staging) and
        {PRODUCTION} (production). Policies classify every signal by its target's
        environment: production needs a person's approval for uncertain fixes."""
    )
    session.apply(
        "0-namespaces.yaml",
        [m.namespace(STAGING, "staging"), m.namespace(PRODUCTION, "production")],
    )


# ------------------------------------------------------------------ scenario 1


def rejected(session: Session) -> ScenarioResult:
    """An invalid request is refused at the door."""
    result = ScenarioResult(
        "both refused by admission, nothing stored",
    )
    session.say(
        """The admission webhook checks every kubernaut resource before the API server
        stores it. A RemediationRequest that would act in kube-system is refused by
        the admission policy; one with a malformed signal fingerprint by the schema."""
    )
    protected = m.remediation_request(
        "coredns-crashloop",
        STAGING,
        signal="KubePodCrashLooping",
        target="coredns",
        target_namespace="kube-system",
        severity="critical",
    )
    first = session.apply("1-rr-kube-system.yaml", [protected])
    malformed = m.remediation_request(
        "checkout-bad-fingerprint",
        STAGING,
        signal="KubePodCrashLooping",
        target="checkout",
        signal_fingerprint="not-a-fingerprint",
    )
    second = session.apply("1-rr-malformed.yaml", [malformed])
    stored = [
        name
        for name in ("coredns-crashloop", "checkout-bad-fingerprint")
        if session.kubernaut("remediationrequests", STAGING, name) is not None
    ]
    result.checks = [
        session.check(
            "kube-system target denied by the webhook with the policy's message",
            first.code != 0
            and "denied the request" in first.output
            and "protected namespace kube-system" in first.output,
            first.output or "kubectl accepted it",
        ),
        session.check(
            "malformed fingerprint refused, naming the field",
            second.code != 0 and "signalFingerprint" in second.output,
            second.output or "kubectl accepted it",
        ),
        session.check("neither request exists", not stored, f"stored: {', '.join(stored)}"),
    ]
    refused = sum(1 for r in (first, second) if r.code != 0)
    result.actual = f"{refused} of 2 refused, {len(stored)} stored"
    return result


# ------------------------------------------------------------------ scenario 2


def crashloop_staging(session: Session) -> ScenarioResult:
    """A crash-looping deployment in staging is restarted."""
    name, rr = "checkout", "checkout-crashloop"
    result = ScenarioResult(
        "Completed; the deployment restarted, every pod ready",
        remediations=[(STAGING, rr)],
    )
    session.say(
        f"""Deployment {STAGING}/{name} runs 3 pods; one of them is stuck in
        CrashLoopBackOff. The alert arrives as a RemediationRequest; the catalog maps
        KubePodCrashLooping on a Deployment to a rolling restart (confidence 0.9, no
        approval needed in staging)."""
    )
    session.apply(
        "2-deployment-checkout.yaml", [m.deployment(name, STAGING, replicas=3, crashing_pods=1)]
    )
    session.wait_for(
        "checkout to crash-loop with 2 of 3 pods ready",
        lambda: _ready(session, STAGING, name) == 2 and _restarts(session, STAGING, name) > 0,
    )
    session.kubectl("get", "pods", "-n", STAGING, "-l", f"app={name}")
    session.apply(
        "2-rr-checkout-crashloop.yaml",
        [
            m.remediation_request(
                rr,
                STAGING,
                signal="KubePodCrashLooping",
                target=name,
                summary=f"a pod of {STAGING}/{name} is crash looping",
            )
        ],
    )
    phase = session.follow(STAGING, rr)
    session.print(f"  timeline: {session.timeline(STAGING, rr)}")
    session.kubectl(
        "get",
        "deployment",
        name,
        "-n",
        STAGING,
        "-o",
        "jsonpath={.spec.template.metadata.annotations.kubectl\\.kubernetes\\.io/restartedAt}{'\\n'}",
    )
    session.wait_for("every checkout pod ready", lambda: _ready(session, STAGING, name) == 3, 10.0)
    session.kubectl("get", "pods", "-n", STAGING, "-l", f"app={name}")
    deployment = _deployment(session, STAGING, name) or {}
    template = (deployment.get("spec") or {}).get("template") or {}
    restarted = ((template.get("metadata") or {}).get("annotations") or {}).get(RESTARTED_AT)
    workflow = session.kubernaut("workflowexecutions", STAGING, f"{rr}-workflow")
    completion = _notification(session, STAGING, f"{rr}-completion")
    result.checks = [
        session.check("RemediationRequest Completed", phase == "Completed", f"phase {phase}"),
        session.check(
            "WorkflowExecution Completed", _phase(workflow) == "Completed", _phase(workflow)
        ),
        session.check("pod template stamped restartedAt", bool(restarted), "no restartedAt"),
        session.check(
            "all 3 pods ready after the restart",
            _ready(session, STAGING, name) == 3,
            f"{_ready(session, STAGING, name)} ready",
        ),
        session.check(
            "Completion notification sent", _phase(completion) == "Sent", _phase(completion)
        ),
    ]
    result.actual = (
        f"{phase}; {_ready(session, STAGING, name)}/3 ready, restartedAt {restarted or '-'}"
    )
    return result


# ------------------------------------------------------------------ scenario 3


def production_approval(session: Session) -> ScenarioResult:
    """Production waits for an approver."""
    name, rr = "payments", "payments-memory"
    result = ScenarioResult(
        "AwaitingApproval; mallory refused, alice accepted; Completed with 4 replicas",
        remediations=[(PRODUCTION, rr)],
    )
    session.say(
        f"""Deployment {PRODUCTION}/{name} runs close to its memory limit. The catalog
        proposes scaling it out, but with confidence 0.75 (below the policy's 0.8
        threshold), so in production a member of kubernaut-approvers must approve."""
    )
    session.apply("3-deployment-payments.yaml", [m.deployment(name, PRODUCTION, replicas=2)])
    session.wait_for("payments to be ready", lambda: _ready(session, PRODUCTION, name) == 2)
    session.apply(
        "3-rr-payments-memory.yaml",
        [
            m.remediation_request(
                rr,
                PRODUCTION,
                signal="HighMemoryUsage",
                target=name,
                severity="critical",
                summary=f"{PRODUCTION}/{name} uses 93% of its memory limit",
            )
        ],
    )
    waiting = session.follow(
        PRODUCTION, rr, until={"AwaitingApproval", "Completed", "Failed", "TimedOut", "Skipped"}
    )
    session.kubectl("get", "notificationrequests", "-n", PRODUCTION)
    approval = _notification(session, PRODUCTION, f"{rr}-approval")
    session.say("mallory, who is not an approver, tries to approve it:")
    mallory = session.kubectl(
        "annotate",
        "remediationrequest",
        rr,
        "-n",
        PRODUCTION,
        "kubernaut.ai/approval=approved",
        as_user="mallory",
    )
    session.say("alice, a member of kubernaut-approvers, approves it:")
    alice = session.kubectl(
        "annotate",
        "remediationrequest",
        rr,
        "-n",
        PRODUCTION,
        "kubernaut.ai/approval=approved",
        as_user="alice",
        groups=["kubernaut-approvers"],
    )
    session.kubectl(
        "get",
        "remediationrequest",
        rr,
        "-n",
        PRODUCTION,
        "-o",
        "jsonpath=approved by {.metadata.annotations.kubernaut\\.ai/approved-by}"
        " at {.metadata.annotations.kubernaut\\.ai/approved-at}{'\\n'}",
    )
    stamps = (session.kubernaut("remediationrequests", PRODUCTION, rr) or {}).get("metadata", {})
    annotations = stamps.get("annotations") or {}
    phase = session.follow(PRODUCTION, rr)
    session.print(f"  timeline: {session.timeline(PRODUCTION, rr)}")
    session.wait_for("4 payments pods ready", lambda: _ready(session, PRODUCTION, name) == 4, 10.0)
    session.kubectl("get", "deployment", name, "-n", PRODUCTION)
    result.checks = [
        session.check("waited in AwaitingApproval", waiting == "AwaitingApproval", str(waiting)),
        session.check(
            "Approval notification sent",
            _phase(approval) == "Sent"
            and (approval or {}).get("spec", {}).get("type") == "Approval",
            _phase(approval),
        ),
        session.check(
            "mallory's approval denied by the webhook with the policy's message",
            mallory.code != 0 and "membership of one of [kubernaut-approvers]" in mallory.output,
            mallory.output or "accepted",
        ),
        session.check("alice's approval accepted", alice.code == 0, alice.output),
        session.check(
            "approval stamped by the webhook (approved-by alice, approved-at)",
            annotations.get(APPROVED_BY) == "alice" and bool(annotations.get(APPROVED_AT)),
            f"approved-by {annotations.get(APPROVED_BY)!r}",
        ),
        session.check("RemediationRequest Completed", phase == "Completed", f"phase {phase}"),
        session.check(
            "payments scaled to 4 ready replicas",
            _replicas(session, PRODUCTION, name) == 4 and _ready(session, PRODUCTION, name) == 4,
            f"{_ready(session, PRODUCTION, name)}/{_replicas(session, PRODUCTION, name)}",
        ),
    ]
    result.actual = (
        f"{waiting} -> mallory {'refused' if mallory.code else 'accepted'}, alice "
        f"{'accepted' if alice.code == 0 else 'refused'} -> {phase}; "
        f"{_ready(session, PRODUCTION, name)}/{_replicas(session, PRODUCTION, name)} ready"
    )
    return result


# ------------------------------------------------------------------ scenario 4


def rollback(session: Session) -> ScenarioResult:
    """A failed critical step rolls the workflow back."""
    name, rr = "search", "search-latency"
    wfe = f"{rr}-workflow"
    result = ScenarioResult(
        "Failed after RollingBack -> RolledBack; 2 replicas again; escalation sent",
        remediations=[(STAGING, rr)],
    )
    session.say(
        f"""Deployment {STAGING}/{name} (2 replicas) answers slowly. The catalog's
        workflow scales it out to 4, then raises the connection pool in ConfigMap
        {name}-tuning, all or nothing. That ConfigMap does not exist, so the second
        (critical) step fails, and the workflow undoes the scale-out."""
    )
    session.apply("4-deployment-search.yaml", [m.deployment(name, STAGING, replicas=2)])
    session.wait_for("search to be ready", lambda: _ready(session, STAGING, name) == 2)
    session.apply(
        "4-rr-search-latency.yaml",
        [
            m.remediation_request(
                rr,
                STAGING,
                signal="HighRequestLatency",
                target=name,
                summary=f"p99 latency of {STAGING}/{name} is 2.3s",
            )
        ],
    )
    phase = session.follow(STAGING, rr)
    session.print(f"  timeline: {session.timeline(STAGING, rr)}")
    session.kubectl(
        "get", "kubernetesexecutions", "-n", STAGING, "-l", f"kubernaut.ai/remediation={rr}"
    )
    session.wait_for(
        "search back at 2 ready pods", lambda: _ready(session, STAGING, name) == 2, 10.0
    )
    session.kubectl("get", "deployment", name, "-n", STAGING)
    workflow = session.kubernaut("workflowexecutions", STAGING, wfe)
    went_through = [c.phase for c in session.changes(STAGING, rr) if c.short == "wfe"]
    failed_step = session.kubernaut("kubernetesexecutions", STAGING, f"{wfe}-step-2")
    undo = session.kubernaut("kubernetesexecutions", STAGING, f"{wfe}-rollback-1")
    escalation = _notification(session, STAGING, f"{rr}-escalation")
    result.checks = [
        session.check(
            "critical step 2 failed", _phase(failed_step) == "Failed", _phase(failed_step)
        ),
        session.check(
            "WorkflowExecution RollingBack -> RolledBack",
            "RollingBack" in went_through and _phase(workflow) == "RolledBack",
            " > ".join(went_through),
        ),
        session.check(
            "scale-out undone (rollback-1 Completed)", _phase(undo) == "Completed", _phase(undo)
        ),
        session.check(
            "search back at 2 replicas",
            _replicas(session, STAGING, name) == 2 and _ready(session, STAGING, name) == 2,
            f"{_ready(session, STAGING, name)}/{_replicas(session, STAGING, name)}",
        ),
        session.check("RemediationRequest Failed", phase == "Failed", f"phase {phase}"),
        session.check(
            "Escalation notification sent", _phase(escalation) == "Sent", _phase(escalation)
        ),
    ]
    result.actual = (
        f"{phase}; workflow {_phase(workflow)}; {_replicas(session, STAGING, name)} replicas; "
        f"escalation {_phase(escalation)}"
    )
    return result


SCENARIOS: tuple[Callable[[Session], ScenarioResult], ...] = (
    rejected,
    crashloop_staging,
    production_approval,
    rollback,
)


def play(
    session: Session, scenario: Callable[[Session], ScenarioResult], number: int
) -> ScenarioResult:
    """Run one scenario under a heading; an unexpected error fails it, and the demo goes on."""
    title = (scenario.__doc__ or scenario.__name__).strip().splitlines()[0].rstrip(".")
    session.heading(f"{number}/{len(SCENARIOS)}  {title}")
    started = time.monotonic()
    try:
        result = scenario(session)
    except Exception as err:  # reported as this scenario's failure; the demo goes on
        result = ScenarioResult("-", actual=f"error: {err}")
        result.checks = [session.check("scenario ran", False, f"{type(err).__name__}: {err}")]
    result.title = title
    result.seconds = time.monotonic() - started
    return result
