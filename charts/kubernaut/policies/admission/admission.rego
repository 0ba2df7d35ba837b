# Admission rules for kubernaut resources: `deny` rejects the request (every
# message is reported), `warn` is returned as AdmissionResponse warnings.
#
# The rules look at the spec, so they apply when a spec is written: on CREATE,
# and on an UPDATE that changes the spec (which the webhook rejects anyway,
# specs being immutable). Metadata and /status updates of an existing object
# are never blocked by a later change of these rules.
package kubernaut.admission

import data.kubernaut.config
import data.kubernaut.lib

# The main resource, not a subresource such as /status.
main_resource if not input.subResource

main_resource if input.subResource in {"", null}

spec_written if {
	input.operation == "CREATE"
	main_resource
}

spec_written if {
	input.operation == "UPDATE"
	main_resource
	input.object.spec != input.oldObject.spec
}

environment := lib.object_environment

production if environment == "production"

# Every remediation step under review, as {number, name, rollback, action, params}:
# the steps of a WorkflowExecution and their rollback specs, or the single
# step of a KubernetesExecution. `params` is the action's parameter block.
# Messages name a step with label(step); it is only formatted for a violation.
steps := array.concat(primary_steps, rollback_steps)

default primary_steps := []

default rollback_steps := []

primary_steps := [step |
	some s in input.object.spec.workflowDefinition.steps
	step := {
		"number": s.stepNumber, "name": s.name, "rollback": false,
		"action": s.action,
		"params": object.get(s, ["parameters", s.action], {}),
	}
] if input.kind.kind == "WorkflowExecution"

primary_steps := [{
	"number": object.get(spec, "stepNumber", "?"), "name": spec.action, "rollback": false,
	"action": spec.action,
	"params": object.get(spec, ["parameters", spec.action], {}),
}] if {
	input.kind.kind == "KubernetesExecution"
	spec := input.object.spec
}

rollback_steps := [step |
	some s in input.object.spec.workflowDefinition.steps
	rollback := s.rollbackSpec
	step := {
		"number": s.stepNumber, "name": s.name, "rollback": true,
		"action": rollback.action,
		"params": object.get(rollback, ["parameters", rollback.action], {}),
	}
] if input.kind.kind == "WorkflowExecution"

rollback_steps := [{
	"number": object.get(input.object.spec, "stepNumber", "?"), "name": rollback.action,
	"rollback": true,
	"action": rollback.action,
	"params": object.get(rollback, ["parameters", rollback.action], {}),
}] if {
	input.kind.kind == "KubernetesExecution"
	rollback := input.object.spec.rollbackSpec
}

label(step) := sprintf("step %v (%v)", [step.number, step.name]) if not step.rollback

label(step) := sprintf("step %v (%v) rollback", [step.number, step.name]) if step.rollback

# Summaries of `steps`, computed once per evaluation: every rule below first
# checks them (cheap set operations) and only walks the steps to name the
# offending one when there is a violation.
step_actions := {step.action | some step in steps}

step_namespaces := {ns | some step in steps; ns := step.params.namespace}

scale_steps := [step | some step in steps; step.action == "scaleDeployment"]

scale_replicas := {r | some step in scale_steps; r := step.params.replicas}

protected_namespaces := {ns | some ns in config.protectedNamespaces}

node_actions := {a | some a in config.nodeActions.actions}

destructive_actions := {a | some a in config.destructiveActions}

# --- protected namespaces -------------------------------------------------

deny contains msg if {
	spec_written
	count(step_namespaces & protected_namespaces) > 0
	some step in steps
	ns := step.params.namespace
	ns in protected_namespaces
	msg := sprintf("%v: namespace %v is protected; remediation may not act in it", [label(step), ns])
}

deny contains msg if {
	spec_written
	input.kind.kind in {"RemediationRequest", "WorkflowExecution", "KubernetesExecution"}
	ns := input.object.spec.targetResource.namespace
	ns in config.protectedNamespaces
	msg := sprintf("targetResource %v/%v is in the protected namespace %v", [
		object.get(input.object.spec.targetResource, "kind", "?"),
		object.get(input.object.spec.targetResource, "name", "?"),
		ns,
	])
}

# --- scale bounds ---------------------------------------------------------

deny contains msg if {
	spec_written
	0 in scale_replicas
	some step in scale_steps
	step.params.replicas == 0
	not step.params.allowScaleToZero == true
	msg := sprintf("%v: scaling %v/%v to 0 replicas requires allowScaleToZero: true", [
		label(step), step.params.namespace, step.params.deployment,
	])
}

deny contains msg if {
	spec_written
	max(scale_replicas) > config.maxReplicas
	some step in scale_steps
	step.params.replicas > config.maxReplicas
	msg := sprintf("%v: replicas %v exceeds the maximum %v", [label(step), step.params.replicas, config.maxReplicas])
}

# --- node actions -----------------------------------------------------------

deny contains msg if {
	spec_written
	count(step_actions & node_actions) > 0
	some step in steps
	step.action in node_actions
	not environment in config.nodeActions.allowedEnvironments
	msg := sprintf("%v: %v of node %v is not allowed in environment %v (allowed: %v)", [
		label(step), step.action, object.get(step.params, "nodeName", "?"), environment,
		concat(", ", sort(config.nodeActions.allowedEnvironments)),
	])
}

# --- image registries -------------------------------------------------------

# A prefix without a trailing "/" is taken as a whole registry or repository
# path: "ghcr.io" allows "ghcr.io/org/app:1" but not "ghcr.io.example.com/app".
registry_prefix(prefix) := prefix if endswith(prefix, "/")

registry_prefix(prefix) := concat("", [prefix, "/"]) if not endswith(prefix, "/")

image_allowed(image) if {
	some prefix in config.allowedImageRegistries
	startswith(image, registry_prefix(prefix))
}

deny contains msg if {
	spec_written
	"updateImage" in step_actions
	some step in steps
	step.action == "updateImage"
	image := step.params.newImage
	not image_allowed(image)
	msg := sprintf("%v: image %v is not from an allowed registry (allowed: %v)", [
		label(step), image, concat(", ", sort(config.allowedImageRegistries)),
	])
}

# --- destructive actions in production -------------------------------------

deny contains msg if {
	spec_written
	input.kind.kind == "WorkflowExecution"
	production
	count(step_actions & destructive_actions) > 0
	some step in steps
	step.action in destructive_actions
	not input.object.spec.executionStrategy.approvalRequired == true
	msg := sprintf("%v: destructive action %v in production requires executionStrategy.approvalRequired: true", [
		label(step), step.action,
	])
}

# --- workflow size ------------------------------------------------------------

deny contains msg if {
	spec_written
	input.kind.kind == "WorkflowExecution"
	n := count(input.object.spec.workflowDefinition.steps)
	n > config.maxSteps
	msg := sprintf("workflow has %v steps; at most %v are allowed", [n, config.maxSteps])
}

# --- warnings ---------------------------------------------------------------

warn contains msg if {
	spec_written
	input.kind.kind == "WorkflowExecution"
	input.object.spec.executionStrategy.rollbackStrategy == "automatic"
	some s in input.object.spec.workflowDefinition.steps
	s.criticalStep == true
	not s.rollbackSpec
	msg := sprintf("step %v (%v): critical step has no rollbackSpec, so automatic rollback cannot undo it", [
		s.stepNumber, s.name,
	])
}

warn contains msg if {
	spec_written
	input.kind.kind == "WorkflowExecution"
	production
	input.object.spec.executionStrategy.dryRunFirst == false
	msg := "executionStrategy.dryRunFirst is false in production: steps run without a server-side dry run first"
}
