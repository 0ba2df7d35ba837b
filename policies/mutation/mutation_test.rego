package kubernaut.mutation_test

import data.kubernaut.mutation

step(number, extra) := object.union(
	{
		"stepNumber": number,
		"name": sprintf("step-%v", [number]),
		"action": "restartDeployment",
		"parameters": {"restartDeployment": {"namespace": "shop", "deployment": "web"}},
	},
	extra,
)

wfe(spec_extra, labels, namespace_labels) := {
	"operation": "CREATE",
	"userInfo": {"username": "alice", "groups": ["system:authenticated"]},
	"kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": "WorkflowExecution"},
	"resource": {"group": "kubernaut.ai", "version": "v1alpha1", "resource": "workflowexecutions"},
	"namespace": "shop",
	"name": "wfe-web",
	"dryRun": false,
	"object": {
		"metadata": {"name": "wfe-web", "namespace": "shop", "labels": labels},
		"spec": object.union(
			{
				"remediationRequestRef": {"name": "rr-web"},
				"targetResource": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "web"},
				"workflowDefinition": {"name": "restart", "version": "1", "steps": [step(1, {}), step(2, {"timeout": "30s", "maxRetries": 0})]},
			},
			spec_extra,
		),
	},
	"oldObject": null,
	"namespaceLabels": namespace_labels,
}

production := {"kubernaut.ai/environment": "production"}

test_production_gets_whole_strategy_when_absent if {
	mutation.defaults == {
		"/spec/executionStrategy": {"approvalRequired": true, "dryRunFirst": true, "rollbackStrategy": "automatic"},
		"/spec/workflowDefinition/steps/0/timeout": "5m",
		"/spec/workflowDefinition/steps/0/maxRetries": 3,
	} with input as wfe({}, production, {})
}

test_production_fills_only_absent_strategy_fields if {
	review := wfe({"executionStrategy": {"approvalRequired": false, "rollbackStrategy": "none"}}, production, {})
	mutation.defaults == {
		"/spec/executionStrategy/dryRunFirst": true,
		"/spec/workflowDefinition/steps/0/timeout": "5m",
		"/spec/workflowDefinition/steps/0/maxRetries": 3,
	} with input as review
}

test_production_from_namespace_label if {
	mutation.defaults["/spec/executionStrategy"].approvalRequired == true with input as wfe({}, {}, {"env": "production"})
}

test_staging_gets_step_defaults_only if {
	mutation.defaults == {
		"/spec/workflowDefinition/steps/0/timeout": "5m",
		"/spec/workflowDefinition/steps/0/maxRetries": 3,
	} with input as wfe({}, {"kubernaut.ai/environment": "staging"}, {})
}

test_nothing_when_everything_is_set if {
	review := wfe(
		{
			"executionStrategy": {"approvalRequired": true, "dryRunFirst": false, "rollbackStrategy": "manual"},
			"workflowDefinition": {"name": "r", "version": "1", "steps": [step(1, {"timeout": "1m", "maxRetries": 1})]},
		},
		production, {},
	)
	mutation.defaults == {} with input as review
}

test_zero_and_false_count_as_set if {
	review := wfe(
		{
			"executionStrategy": {"approvalRequired": false, "dryRunFirst": false, "rollbackStrategy": "none"},
			"workflowDefinition": {"name": "r", "version": "1", "steps": [step(1, {"timeout": "1m", "maxRetries": 0})]},
		},
		production, {},
	)
	mutation.defaults == {} with input as review
}

test_no_defaults_on_update if {
	review := object.union(wfe({}, production, {}), {"operation": "UPDATE"})
	mutation.defaults == {} with input as review
}

test_no_defaults_on_status_subresource if {
	review := object.union(wfe({}, production, {}), {"subResource": "status"})
	mutation.defaults == {} with input as review
}

test_kubernetes_execution_spec_defaults if {
	review := {
		"operation": "CREATE",
		"kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": "KubernetesExecution"},
		"object": {"metadata": {"name": "ke-1"}, "spec": {"stepNumber": 1, "action": "collectLogs", "timeout": "2m"}},
	}
	mutation.defaults == {"/spec/maxRetries": 3} with input as review
}

test_other_kinds_get_nothing if {
	review := object.union(wfe({}, production, {}), {"kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": "RemediationRequest"}})
	mutation.defaults == {} with input as review
}
