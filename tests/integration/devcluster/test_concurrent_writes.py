"""Writes waiting on admission are served side by side, as the API server serves them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from devcluster.admission import AdmissionAttributes, AdmissionChain, AdmissionDecision
from devcluster.runner import DevCluster

pytestmark = pytest.mark.integration

AT_ONCE = 16


class _Rendezvous:
    """Admits configmaps only once ``AT_ONCE`` of them are being admitted at the same time."""

    def __init__(self) -> None:
        self.barrier = threading.Barrier(AT_ONCE, timeout=20)

    def mutate(self, attributes: AdmissionAttributes) -> AdmissionDecision:
        return AdmissionDecision.allow()

    def validate(self, attributes: AdmissionAttributes) -> AdmissionDecision:
        if attributes.resource.plural != "configmaps":
            return AdmissionDecision.allow()
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            return AdmissionDecision.deny("fewer writes were admitted at once than expected")
        return AdmissionDecision.allow()


def test_many_writes_wait_on_admission_at_the_same_time() -> None:
    chain = AdmissionChain()
    chain.add(_Rendezvous())
    with DevCluster.start(admission=chain, webhooks=False) as cluster:

        def create(index: int) -> int:
            answer = httpx.post(
                f"{cluster.url}/api/v1/namespaces/default/configmaps",
                headers={"Authorization": "Bearer dev-admin"},
                json={"metadata": {"name": f"cm-{index}"}},
                timeout=60,
            )
            return answer.status_code

        with ThreadPoolExecutor(AT_ONCE) as pool:
            codes = list(pool.map(create, range(AT_ONCE)))
    assert codes == [201] * AT_ONCE
