"""Kubernaut's custom resource types, phase tables and CRD generation (group kubernaut.ai).

Imported by the webhook and the reconciler; imports neither. Where to look:

* ``api.validation``: ``validate_resource`` (schema + invariants, with field paths) and
  ``parse_resource`` for wire documents.
* ``api.resources``: the registry of kinds (``RESOURCES``, ``info_for``, ``info_for_plural``,
  ``model_for``) and ``api.constants`` for group, version, annotations, labels, finalizers.
* One module per kind: ``api.remediationrequest``, ``api.signalprocessing``,
  ``api.aianalysis``, ``api.workflowexecution``, ``api.kubernetesexecution``,
  ``api.notificationrequest``; shared types in ``api.meta``, ``api.status``,
  ``api.signal``, ``api.workflow``, ``api.parameters``, ``api.results``.
* ``api.phases``: the phase transition table; ``api.dag``: the step graph.
* ``api.durations`` and ``api.timestamps``: the wire formats of time.
* ``api.crds``: CustomResourceDefinitions generated from the models (``kubernaut crds``).
"""
