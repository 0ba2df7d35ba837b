package kubernaut.execution_test

import data.kubernaut.execution

deployment(replicas, ready, available) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "web", "namespace": "shop"},
	"spec": {"replicas": replicas},
	"status": {"replicas": replicas, "readyReplicas": ready, "availableReplicas": available},
}

restart(target) := {
	"action": "restartDeployment",
	"parameters": {"restartDeployment": {"namespace": "shop", "deployment": "web"}},
	"targetKind": "Deployment",
	"target": target,
}

scale(replicas, target) := {
	"action": "scaleDeployment",
	"parameters": {"scaleDeployment": {"namespace": "shop", "deployment": "web", "replicas": replicas}},
	"targetKind": "Deployment",
	"target": target,
}

drain(target) := {
	"action": "drainNode",
	"parameters": {"drainNode": {"nodeName": "node-1", "ignoreDaemonSets": true, "deleteLocalData": false}},
	"targetKind": "Node",
	"target": target,
}

test_ready_replica_allows_restart if {
	execution.deployment_has_ready_replica == {"allowed": true, "messages": []} with input as restart(deployment(3, 1, 1))
}

test_no_ready_replica_blocks_restart if {
	execution.deployment_has_ready_replica == {
		"allowed": false,
		"messages": ["deployment shop/web has no ready replica (0/3 ready); restarting it would not restore service"],
	} with input as restart(deployment(3, 0, 0))
}

test_missing_ready_replicas_field_counts_as_zero if {
	target := json.patch(deployment(2, 0, 0), [{"op": "remove", "path": "/status/readyReplicas"}])
	not execution.deployment_has_ready_replica.allowed with input as restart(target)
}

test_missing_deployment_blocks_restart if {
	execution.deployment_has_ready_replica == {"allowed": false, "messages": ["deployment shop/web not found"]} with input as restart(null)
}

test_deployment_available if {
	execution.deployment_available.allowed with input as restart(deployment(3, 3, 3))
}

test_deployment_not_available if {
	execution.deployment_available == {"allowed": false, "messages": ["deployment shop/web has 2 of 3 replicas available"]} with input as restart(deployment(3, 3, 2))
}

test_replicas_match if {
	execution.replicas_match == {"allowed": true, "messages": []} with input as scale(5, deployment(5, 5, 5))
}

test_replicas_not_yet_ready if {
	execution.replicas_match == {"allowed": false, "messages": ["deployment shop/web has 3 ready replicas, not the requested 5"]} with input as scale(5, deployment(5, 3, 3))
}

test_replicas_spec_differs if {
	some msg in execution.replicas_match.messages with input as scale(5, deployment(4, 4, 4))
	msg == "deployment shop/web wants 4 replicas, not the requested 5"
}

test_replicas_match_without_count if {
	review := {"action": "restartDeployment", "parameters": {"restartDeployment": {}}, "target": deployment(1, 1, 1)}
	execution.replicas_match == {"allowed": false, "messages": ["step parameters of restartDeployment carry no replica count"]} with input as review
}

test_node_exists if {
	execution.node_exists == {"allowed": true, "messages": []} with input as drain({"kind": "Node", "metadata": {"name": "node-1"}})
}

test_node_missing if {
	execution.node_exists == {"allowed": false, "messages": ["node node-1 not found"]} with input as drain(null)
}

test_node_exists_rejects_other_kinds if {
	not execution.node_exists.allowed with input as drain({"kind": "Pod", "metadata": {"name": "node-1"}})
}
