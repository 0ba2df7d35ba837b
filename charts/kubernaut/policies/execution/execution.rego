# Preconditions and postconditions of a remediation step over its live target.
#
# Input: {"action": "restartDeployment",
#         "parameters": {"restartDeployment": {...}},   (the step's parameters)
#         "targetKind": "Deployment",
#         "target": <the live object as read from the API server, or null>}
#
# Every condition is a rule `<name> := {"allowed": bool, "messages": [...]}`;
# `allowed` is false exactly when `messages` explains why.
package kubernaut.execution

params := object.get(input, ["parameters", input.action], {})

# The live target; a missing (null) or malformed target is absent.
target_present if is_object(input.target)

target := input.target if target_present

target := {} if not target_present

target_name := sprintf("%v/%v", [
	object.get(target, ["metadata", "namespace"], object.get(params, "namespace", "?")),
	object.get(target, ["metadata", "name"], object.get(params, "deployment", "?")),
])

verdict(problems) := {"allowed": count(problems) == 0, "messages": sort(problems)}

status_count(field) := object.get(target, ["status", field], 0)

desired_replicas := object.get(target, ["spec", "replicas"], 1)

deployment_missing contains msg if {
	not target_present
	msg := sprintf("deployment %v not found", [target_name])
}

# --- deployment_has_ready_replica (precondition of a restart) ----------------------

ready_replica_problems contains msg if some msg in deployment_missing

ready_replica_problems contains msg if {
	target_present
	status_count("readyReplicas") < 1
	msg := sprintf("deployment %v has no ready replica (0/%v ready); restarting it would not restore service", [
		target_name, desired_replicas,
	])
}

deployment_has_ready_replica := verdict(ready_replica_problems)

# --- deployment_available (postcondition) ------------------------------------------

available_problems contains msg if some msg in deployment_missing

available_problems contains msg if {
	target_present
	available := status_count("availableReplicas")
	available < desired_replicas
	msg := sprintf("deployment %v has %v of %v replicas available", [target_name, available, desired_replicas])
}

deployment_available := verdict(available_problems)

# --- replicas_match (postcondition of scaleDeployment) -----------------------------

replicas_problems contains msg if some msg in deployment_missing

replicas_problems contains msg if {
	not is_number(params.replicas)
	msg := sprintf("step parameters of %v carry no replica count", [input.action])
}

replicas_problems contains msg if {
	target_present
	wanted := params.replicas
	desired_replicas != wanted
	msg := sprintf("deployment %v wants %v replicas, not the requested %v", [target_name, desired_replicas, wanted])
}

replicas_problems contains msg if {
	target_present
	wanted := params.replicas
	ready := status_count("readyReplicas")
	ready != wanted
	msg := sprintf("deployment %v has %v ready replicas, not the requested %v", [target_name, ready, wanted])
}

replicas_match := verdict(replicas_problems)

# --- node_exists (precondition of node actions) --------------------------------------

node_problems contains msg if {
	not target_present
	msg := sprintf("node %v not found", [object.get(params, "nodeName", "?")])
}

node_problems contains msg if {
	target_present
	kind := object.get(target, "kind", "Node")
	kind != "Node"
	msg := sprintf("target %v is a %v, not a Node", [object.get(target, ["metadata", "name"], "?"), kind])
}

node_exists := verdict(node_problems)
