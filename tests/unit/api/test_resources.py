import pytest

from api.constants import API_VERSION, KINDS
from api.resources import RESOURCES, info_for, info_for_plural, model_for

EXPECTED = {
    "RemediationRequest": ("remediationrequests", "rr"),
    "SignalProcessing": ("signalprocessings", "sp"),
    "AIAnalysis": ("aianalyses", "aia"),
    "WorkflowExecution": ("workflowexecutions", "wfe"),
    "KubernetesExecution": ("kubernetesexecutions", "ke"),
    "NotificationRequest": ("notificationrequests", "notif"),
}


@pytest.mark.parametrize("kind", KINDS)
def test_registry_entry(kind: str) -> None:
    plural, short = EXPECTED[kind]
    info = info_for(kind)
    assert info.kind == kind
    assert info.plural == plural
    assert info.singular == kind.lower()
    assert info.short_names == (short,)
    assert info.list_kind == f"{kind}List"
    assert info.crd_name == f"{plural}.kubernaut.ai"
    assert info.finalizer == f"{kind.lower()}.kubernaut.ai/cleanup"
    assert info_for_plural(plural) is info
    model = model_for(kind)
    assert model is info.model
    assert model.model_fields["api_version"].default == API_VERSION
    assert model.model_fields["kind"].default == kind
    assert info.columns[0].name == "Phase"
    assert info.columns[-1].name == "Age"


def test_registry_covers_every_kind_once() -> None:
    assert tuple(RESOURCES) == KINDS
    assert len({info.plural for info in RESOURCES.values()}) == len(KINDS)


def test_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        model_for("Pod")
    with pytest.raises(ValueError, match="unknown resource 'pods'"):
        info_for_plural("pods")
