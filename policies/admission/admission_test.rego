package kubernaut.admission_test

import data.kubernaut.admission

# --- fixtures ---------------------------------------------------------------

scale_step(number, name, replicas) := {
	"stepNumber": number,
	"name": name,
	"action": "scaleDeployment",
	"parameters": {"scaleDeployment": {"namespace": "shop", "deployment": "web", "replicas": replicas}},
	"criticalStep": false,
}

restart_step := {
	"stepNumber": 1,
	"name": "restart-web",
	"action": "restartDeployment",
	"parameters": {"restartDeployment": {"namespace": "shop", "deployment": "web"}},
	"criticalStep": false,
}

action_step(number, action, block) := {
	"stepNumber": number,
	"name": sprintf("%v-%v", [action, number]),
	"action": action,
	"parameters": {action: block},
	"criticalStep": false,
}

strategy := {"approvalRequired": true, "dryRunFirst": true, "rollbackStrategy": "manual", "maxRetries": 3}

wfe(steps, execution_strategy, environment) := {
	"operation": "CREATE",
	"userInfo": {"username": "system:serviceaccount:kubernaut-system:kubernaut-reconciler", "groups": ["system:serviceaccounts"]},
	"kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": "WorkflowExecution"},
	"resource": {"group": "kubernaut.ai", "version": "v1alpha1", "resource": "workflowexecutions"},
	"subResource": "",
	"namespace": "shop",
	"name": "wfe-web",
	"dryRun": false,
	"object": {
		"apiVersion": "kubernaut.ai/v1alpha1",
		"kind": "WorkflowExecution",
		"metadata": {"name": "wfe-web", "namespace": "shop", "labels": {"kubernaut.ai/environment": environment}},
		"spec": {
			"remediationRequestRef": {"name": "rr-web"},
			"targetResource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"},
			"workflowDefinition": {"name": "scale-out", "version": "1", "steps": steps},
			"executionStrategy": execution_strategy,
		},
	},
	"oldObject": null,
}

ke(action, block, environment) := {
	"operation": "CREATE",
	"userInfo": {"username": "system:serviceaccount:kubernaut-system:kubernaut-reconciler", "groups": []},
	"kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": "KubernetesExecution"},
	"resource": {"group": "kubernaut.ai", "version": "v1alpha1", "resource": "kubernetesexecutions"},
	"subResource": "",
	"namespace": "shop",
	"name": "wfe-web-step-1",
	"dryRun": false,
	"object": {
		"metadata": {"name": "wfe-web-step-1", "namespace": "shop", "labels": {"kubernaut.ai/environment": environment}},
		"spec": {
			"workflowExecutionRef": {"name": "wfe-web"},
			"stepNumber": 1,
			"action": action,
			"parameters": {action: block},
			"targetResource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"},
		},
	},
	"oldObject": null,
}

# --- a valid workflow passes ------------------------------------------------

test_valid_workflow_has_no_denials_or_warnings if {
	count(admission.deny) == 0 with input as wfe([restart_step, scale_step(2, "scale-web", 5)], strategy, "production")
	count(admission.warn) == 0 with input as wfe([restart_step, scale_step(2, "scale-web", 5)], strategy, "production")
}

# --- protected namespaces ---------------------------------------------------

test_step_in_protected_namespace_denied if {
	step := action_step(1, "restartDeployment", {"namespace": "kube-system", "deployment": "coredns"})
	admission.deny == {"step 1 (restartDeployment-1): namespace kube-system is protected; remediation may not act in it"} with input as wfe([step], strategy, "staging")
}

test_operator_namespace_protected if {
	step := action_step(3, "deletePod", {"namespace": "kubernaut-system", "podName": "webhook-0"})
	some msg in admission.deny with input as wfe([step], strategy, "staging")
	contains(msg, "step 3 (deletePod-3): namespace kubernaut-system is protected")
}

test_rollback_in_protected_namespace_denied if {
	step := object.union(restart_step, {"rollbackSpec": {
		"action": "rollbackDeployment",
		"parameters": {"rollbackDeployment": {"namespace": "kube-public", "deployment": "x"}},
	}})
	some msg in admission.deny with input as wfe([step], strategy, "staging")
	contains(msg, "step 1 (restart-web) rollback: namespace kube-public is protected")
}

test_target_resource_in_protected_namespace_denied if {
	base := wfe([restart_step], strategy, "staging")
	review := json.patch(base, [{"op": "replace", "path": "/object/spec/targetResource/namespace", "value": "kube-system"}])
	admission.deny == {"targetResource Deployment/web is in the protected namespace kube-system"} with input as review
}

test_remediation_request_target_in_protected_namespace_denied if {
	review := {
		"operation": "CREATE",
		"userInfo": {"username": "alertmanager", "groups": ["system:authenticated"]},
		"kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": "RemediationRequest"},
		"resource": {"group": "kubernaut.ai", "version": "v1alpha1", "resource": "remediationrequests"},
		"subResource": "",
		"namespace": "shop",
		"name": "dns-crashloop",
		"dryRun": false,
		"object": {
			"apiVersion": "kubernaut.ai/v1alpha1", "kind": "RemediationRequest",
			"metadata": {"name": "dns-crashloop", "namespace": "shop"},
			"spec": {"signalName": "KubePodCrashLooping", "targetResource": {
				"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "kube-system", "name": "coredns",
			}},
		},
		"oldObject": null,
	}
	admission.deny == {"targetResource Deployment/coredns is in the protected namespace kube-system"} with input as review
	allowed := json.patch(review, [{"op": "replace", "path": "/object/spec/targetResource/namespace", "value": "shop"}])
	count(admission.deny) == 0 with input as allowed
}

test_protected_namespaces_come_from_data if {
	step := action_step(1, "restartDeployment", {"namespace": "payments", "deployment": "api"})
	count(admission.deny) == 1 with input as wfe([step], strategy, "staging")
		with data.kubernaut.config.protectedNamespaces as ["payments"]
	count(admission.deny) == 0 with input as wfe([step], strategy, "staging")
}

test_kubernetes_execution_in_protected_namespace_denied if {
	review := ke("restartDeployment", {"namespace": "kube-system", "deployment": "coredns"}, "staging")
	some msg in admission.deny with input as review
	contains(msg, "step 1 (restartDeployment): namespace kube-system is protected")
}

# --- scale bounds -------------------------------------------------------------

test_scale_to_zero_denied_without_flag if {
	admission.deny == {"step 2 (scale-web): scaling shop/web to 0 replicas requires allowScaleToZero: true"} with input as wfe([scale_step(2, "scale-web", 0)], strategy, "staging")
}

test_scale_to_zero_allowed_with_flag if {
	step := action_step(1, "scaleDeployment", {"namespace": "shop", "deployment": "web", "replicas": 0, "allowScaleToZero": true})
	count(admission.deny) == 0 with input as wfe([step], strategy, "staging")
}

test_scale_above_maximum_denied if {
	admission.deny == {"step 2 (scale-web): replicas 80 exceeds the maximum 50"} with input as wfe([scale_step(2, "scale-web", 80)], strategy, "staging")
}

test_scale_at_maximum_allowed if {
	count(admission.deny) == 0 with input as wfe([scale_step(2, "scale-web", 50)], strategy, "staging")
}

test_kubernetes_execution_scale_checked if {
	review := ke("scaleDeployment", {"namespace": "shop", "deployment": "web", "replicas": 51}, "staging")
	admission.deny == {"step 1 (scaleDeployment): replicas 51 exceeds the maximum 50"} with input as review
}

# --- node actions -------------------------------------------------------------

test_drain_denied_in_production if {
	step := action_step(1, "drainNode", {"nodeName": "node-1", "ignoreDaemonSets": true, "deleteLocalData": false})
	some msg in admission.deny with input as wfe([step], strategy, "production")
	msg == "step 1 (drainNode-1): drainNode of node node-1 is not allowed in environment production (allowed: development, staging)"
}

test_cordon_allowed_in_staging if {
	step := action_step(1, "cordonNode", {"nodeName": "node-1"})
	count(admission.deny) == 0 with input as wfe([step], strategy, "staging")
}

test_cordon_denied_in_unknown_environment if {
	step := action_step(1, "cordonNode", {"nodeName": "node-1"})
	review := json.patch(wfe([step], strategy, "x"), [{"op": "remove", "path": "/object/metadata/labels"}])
	some msg in admission.deny with input as review
	contains(msg, "not allowed in environment unknown")
}

test_uncordon_is_not_a_restricted_node_action if {
	step := action_step(1, "uncordonNode", {"nodeName": "node-1"})
	count(admission.deny) == 0 with input as wfe([step], strategy, "production")
}

test_environment_from_namespace_labels if {
	step := action_step(1, "cordonNode", {"nodeName": "node-1"})
	base := json.patch(wfe([step], strategy, "x"), [{"op": "remove", "path": "/object/metadata/labels"}])
	review := object.union(base, {"namespaceLabels": {"env": "development"}})
	count(admission.deny) == 0 with input as review
}

# --- image registries ---------------------------------------------------------

test_image_from_allowed_registry if {
	step := action_step(1, "updateImage", {"namespace": "shop", "deployment": "web", "container": "app", "newImage": "ghcr.io/acme/web:1.2.3"})
	count(admission.deny) == 0 with input as wfe([step], strategy, "staging")
}

test_image_from_other_registry_denied if {
	step := action_step(1, "updateImage", {"namespace": "shop", "deployment": "web", "container": "app", "newImage": "evil.example.com/web:1"})
	some msg in admission.deny with input as wfe([step], strategy, "staging")
	startswith(msg, "step 1 (updateImage-1): image evil.example.com/web:1 is not from an allowed registry")
}

test_registry_prefix_is_not_a_hostname_prefix if {
	step := action_step(1, "updateImage", {"namespace": "shop", "deployment": "web", "container": "app", "newImage": "ghcr.io.example.com/web:1"})
	count(admission.deny) == 1 with input as wfe([step], strategy, "staging")
		with data.kubernaut.config.allowedImageRegistries as ["ghcr.io"]
	step_ok := action_step(1, "updateImage", {"namespace": "shop", "deployment": "web", "container": "app", "newImage": "ghcr.io/acme/web:1"})
	count(admission.deny) == 0 with input as wfe([step_ok], strategy, "staging")
		with data.kubernaut.config.allowedImageRegistries as ["ghcr.io"]
}

# --- destructive actions in production ----------------------------------------

test_destructive_production_without_approval_denied if {
	step := action_step(4, "deletePod", {"namespace": "shop", "podName": "web-0"})
	no_approval := object.union(strategy, {"approvalRequired": false})
	admission.deny == {"step 4 (deletePod-4): destructive action deletePod in production requires executionStrategy.approvalRequired: true"} with input as wfe([step], no_approval, "production")
}

test_destructive_production_with_approval_allowed if {
	step := action_step(4, "rollbackDeployment", {"namespace": "shop", "deployment": "web"})
	count(admission.deny) == 0 with input as wfe([step], strategy, "production")
}

test_destructive_staging_without_approval_allowed if {
	step := action_step(4, "deletePod", {"namespace": "shop", "podName": "web-0"})
	no_approval := object.union(strategy, {"approvalRequired": false})
	count(admission.deny) == 0 with input as wfe([step], no_approval, "staging")
}

# --- workflow size --------------------------------------------------------------

test_too_many_steps_denied if {
	steps := [scale_step(i, sprintf("s%v", [i]), 2) | some i in numbers.range(1, 21)]
	admission.deny == {"workflow has 21 steps; at most 20 are allowed"} with input as wfe(steps, strategy, "staging")
}

test_step_limit_allowed if {
	steps := [scale_step(i, sprintf("s%v", [i]), 2) | some i in numbers.range(1, 20)]
	count(admission.deny) == 0 with input as wfe(steps, strategy, "staging")
}

# --- when the rules apply -----------------------------------------------------

test_status_update_not_blocked if {
	review := object.union(wfe([scale_step(2, "scale-web", 80)], strategy, "staging"), {"operation": "UPDATE", "subResource": "status"})
	count(admission.deny) == 0 with input as review
}

test_metadata_update_not_blocked if {
	base := wfe([scale_step(2, "scale-web", 80)], strategy, "staging")
	review := object.union(base, {"operation": "UPDATE", "oldObject": base.object})
	count(admission.deny) == 0 with input as review
}

test_spec_update_checked if {
	base := wfe([scale_step(2, "scale-web", 80)], strategy, "staging")
	old := json.patch(base.object, [{"op": "replace", "path": "/spec/workflowDefinition/steps/0/parameters/scaleDeployment/replicas", "value": 3}])
	review := object.union(base, {"operation": "UPDATE", "oldObject": old})
	count(admission.deny) == 1 with input as review
}

test_delete_not_checked if {
	review := object.union(wfe([scale_step(2, "scale-web", 80)], strategy, "staging"), {"operation": "DELETE"})
	count(admission.deny) == 0 with input as review
}

test_all_violations_reported if {
	steps := [scale_step(1, "zero", 0), scale_step(2, "huge", 99)]
	count(admission.deny) == 2 with input as wfe(steps, strategy, "staging")
}

# --- warnings -------------------------------------------------------------------

test_warn_critical_step_without_rollback if {
	step := object.union(restart_step, {"criticalStep": true})
	automatic := object.union(strategy, {"rollbackStrategy": "automatic"})
	admission.warn == {"step 1 (restart-web): critical step has no rollbackSpec, so automatic rollback cannot undo it"} with input as wfe([step], automatic, "staging")
}

test_no_warning_when_critical_step_has_rollback if {
	step := object.union(restart_step, {"criticalStep": true, "rollbackSpec": {
		"action": "rollbackDeployment",
		"parameters": {"rollbackDeployment": {"namespace": "shop", "deployment": "web"}},
	}})
	automatic := object.union(strategy, {"rollbackStrategy": "automatic"})
	count(admission.warn) == 0 with input as wfe([step], automatic, "staging")
}

test_no_warning_for_manual_rollback if {
	step := object.union(restart_step, {"criticalStep": true})
	count(admission.warn) == 0 with input as wfe([step], strategy, "staging")
}

test_warn_no_dry_run_in_production if {
	no_dry_run := object.union(strategy, {"dryRunFirst": false})
	some msg in admission.warn with input as wfe([restart_step], no_dry_run, "production")
	startswith(msg, "executionStrategy.dryRunFirst is false in production")
}

test_no_dry_run_warning_in_staging if {
	no_dry_run := object.union(strategy, {"dryRunFirst": false})
	count(admission.warn) == 0 with input as wfe([restart_step], no_dry_run, "staging")
}

test_kubernetes_execution_rollback_checked if {
	base := ke("restartDeployment", {"namespace": "shop", "deployment": "web"}, "staging")
	review := json.patch(base, [{"op": "add", "path": "/object/spec/rollbackSpec", "value": {
		"action": "scaleDeployment",
		"parameters": {"scaleDeployment": {"namespace": "shop", "deployment": "web", "replicas": 0}},
	}}])
	admission.deny == {"step 1 (scaleDeployment) rollback: scaling shop/web to 0 replicas requires allowScaleToZero: true"} with input as review
}
