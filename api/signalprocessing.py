"""SignalProcessing: enrich a signal from the cluster and classify it."""

from __future__ import annotations

from typing import Literal

from api.base import WireModel
from api.meta import ObjectMeta, ObjectRef
from api.phases import SignalProcessingPhase
from api.signal import Enrichment, SignalContext
from api.status import CommonStatus
from api.timestamps import Timestamp

__all__ = ["SignalProcessing", "SignalProcessingSpec", "SignalProcessingStatus"]


class SignalProcessingSpec(WireModel):
    remediation_request_ref: ObjectRef
    signal: SignalContext


class SignalProcessingStatus(Enrichment, CommonStatus[SignalProcessingPhase]):
    """Enrichment results next to the common status fields."""

    completion_time: Timestamp | None = None
    message: str | None = None


class SignalProcessing(WireModel):
    api_version: Literal["kubernaut.ai/v1alpha1"] = "kubernaut.ai/v1alpha1"
    kind: Literal["SignalProcessing"] = "SignalProcessing"
    metadata: ObjectMeta
    spec: SignalProcessingSpec
    status: SignalProcessingStatus | None = None
