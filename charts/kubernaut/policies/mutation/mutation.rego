# Context-dependent defaults for kubernaut resources.
#
# `defaults` is an object mapping a JSON pointer (RFC 6901) into the reviewed
# object to the value to put there. A pointer is only produced when its target
# is ABSENT and its parent exists, so every entry is one JSON Patch `add`
# operation that never overrides what a user set. When a whole parent object
# is missing, the parent itself is the pointer (with every default inside it).
#
# Defaults apply when an object is created (specs are immutable afterwards).
package kubernaut.mutation

import data.kubernaut.config
import data.kubernaut.lib

creating if {
	input.operation == "CREATE"
	not input.subResource
}

creating if {
	input.operation == "CREATE"
	input.subResource in {"", null}
}

environment := lib.object_environment

strategy_defaults := object.get(config.defaults.executionStrategyByEnvironment, environment, {})

step_defaults := config.defaults.step

step_default_fields := object.keys(step_defaults)

# --- WorkflowExecution: executionStrategy by environment -----------------------

defaults[pointer] := value if {
	creating
	input.kind.kind == "WorkflowExecution"
	count(strategy_defaults) > 0
	not input.object.spec.executionStrategy
	pointer := "/spec/executionStrategy"
	value := strategy_defaults
}

defaults[pointer] := value if {
	creating
	input.kind.kind == "WorkflowExecution"
	current := input.object.spec.executionStrategy
	is_object(current)
	some field in object.keys(strategy_defaults) - object.keys(current)
	value := strategy_defaults[field]
	pointer := sprintf("/spec/executionStrategy/%v", [field])
}

# --- WorkflowExecution: every step ---------------------------------------------

defaults[pointer] := value if {
	creating
	input.kind.kind == "WorkflowExecution"
	some index, step in input.object.spec.workflowDefinition.steps
	is_object(step)
	some field in step_default_fields - object.keys(step)
	value := step_defaults[field]
	pointer := sprintf("/spec/workflowDefinition/steps/%v/%v", [index, field])
}

# --- KubernetesExecution: the step is the spec ---------------------------------

defaults[pointer] := value if {
	creating
	input.kind.kind == "KubernetesExecution"
	spec := input.object.spec
	is_object(spec)
	some field in step_default_fields - object.keys(spec)
	value := step_defaults[field]
	pointer := sprintf("/spec/%v", [field])
}
