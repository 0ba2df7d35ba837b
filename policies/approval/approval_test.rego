package kubernaut.approval_test

import data.kubernaut.approval

review(operation, user, groups, environment, old_decision, new_decision) := {
	"operation": operation,
	"userInfo": {"username": user, "groups": groups},
	"kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": "RemediationRequest"},
	"resource": {"group": "kubernaut.ai", "version": "v1alpha1", "resource": "remediationrequests"},
	"namespace": "shop",
	"name": "rr-web",
	"dryRun": false,
	"object": rr(environment, new_decision),
	"oldObject": rr(environment, old_decision),
	"namespaceLabels": {},
}

rr(environment, decision) := {
	"metadata": {
		"name": "rr-web",
		"namespace": "shop",
		"labels": {"kubernaut.ai/environment": environment},
		"annotations": annotations(decision),
	},
	"spec": {"signalName": "HighErrorRate", "severity": "critical"},
}

annotations(decision) := {"kubernaut.ai/created-by": "carol"} if decision == ""

annotations(decision) := {"kubernaut.ai/created-by": "carol", "kubernaut.ai/approval": decision} if decision != ""

people := ["system:authenticated"]

approvers := ["system:authenticated", "kubernaut-approvers"]

# --- who may approve --------------------------------------------------------------

test_approver_may_approve_production if {
	count(approval.deny) == 0 with input as review("UPDATE", "alice", approvers, "production", "", "approved")
}

test_non_approver_denied_in_production if {
	approval.deny == {"bob may not decide on RemediationRequest rr-web in production: membership of one of [kubernaut-approvers] is required"} with input as review("UPDATE", "bob", people, "production", "", "approved")
}

test_any_person_may_approve_staging if {
	count(approval.deny) == 0 with input as review("UPDATE", "bob", people, "staging", "", "approved")
}

test_service_account_denied_in_staging if {
	some msg in approval.deny with input as review("UPDATE", "system:serviceaccount:ci:bot", ["system:authenticated", "system:serviceaccounts"], "staging", "", "approved")
	contains(msg, "an authenticated person or a member of [kubernaut-approvers] is required")
}

test_service_account_in_approver_group_allowed if {
	count(approval.deny) == 0 with input as review("UPDATE", "system:serviceaccount:ci:bot", ["system:authenticated", "kubernaut-approvers"], "staging", "", "approved")
}

test_anonymous_denied if {
	count(approval.deny) == 1 with input as review("UPDATE", "system:anonymous", ["system:unauthenticated"], "development", "", "approved")
}

test_unknown_environment_is_not_production if {
	count(approval.deny) == 0 with input as review("UPDATE", "bob", people, "unknown", "", "rejected")
}

test_creator_may_not_approve if {
	approval.deny == {"carol may not approve RemediationRequest rr-web: nobody approves a request they created"} with input as review("UPDATE", "carol", approvers, "production", "", "approved")
}

test_creator_may_reject if {
	count(approval.deny) == 0 with input as review("UPDATE", "carol", approvers, "production", "", "rejected")
}

test_rejected_stays_rejected if {
	approval.deny == {"RemediationRequest rr-web was rejected; a rejection is final"} with input as review("UPDATE", "alice", approvers, "production", "rejected", "approved")
}

test_rejection_may_not_be_removed if {
	some msg in approval.deny with input as review("UPDATE", "alice", approvers, "production", "rejected", "")
	contains(msg, "a rejection is final")
}

test_approved_may_become_rejected if {
	count(approval.deny) == 0 with input as review("UPDATE", "alice", approvers, "production", "approved", "rejected")
}

test_unchanged_decision_not_checked if {
	count(approval.deny) == 0 with input as review("UPDATE", "bob", people, "production", "approved", "approved")
}

test_invalid_decision_denied if {
	approval.deny == {"annotation kubernaut.ai/approval must be \"approved\" or \"rejected\", not \"yes\""} with input as review("UPDATE", "alice", approvers, "staging", "", "yes")
}

test_approval_on_create_checked if {
	count(approval.deny) == 1 with input as object.union(review("CREATE", "bob", people, "production", "", "approved"), {"oldObject": null})
}

test_other_kinds_not_checked if {
	other := object.union(review("UPDATE", "bob", people, "production", "", "approved"), {"kind": {"group": "kubernaut.ai", "version": "v1alpha1", "kind": "AIAnalysis"}})
	count(approval.deny) == 0 with input as other
}

test_approver_groups_come_from_data if {
	count(approval.deny) == 0 with input as review("UPDATE", "bob", ["sre"], "production", "", "approved")
		with data.kubernaut.config.approval.approverGroups as ["sre"]
}

# --- does an analysis need approval? ---------------------------------------------

test_high_confidence_staging_needs_no_approval if {
	not approval.require_approval with input as {"environment": "staging", "confidence": 0.93, "actions": ["deletePod"]}
	approval.approval_reason == "" with input as {"environment": "staging", "confidence": 0.93, "actions": ["deletePod"]}
}

test_low_confidence_needs_approval if {
	analysis := {"environment": "staging", "confidence": 0.55, "actions": ["restartDeployment"]}
	approval.require_approval with input as analysis
	approval.approval_reason == "confidence 0.55 is below the threshold 0.8" with input as analysis
}

test_threshold_is_inclusive if {
	not approval.require_approval with input as {"environment": "staging", "confidence": 0.8, "actions": []}
}

test_threshold_from_data if {
	approval.require_approval with input as {"environment": "staging", "confidence": 0.85, "actions": []}
		with data.kubernaut.config.approval.confidenceThreshold as 0.9
}

test_default_threshold_without_data if {
	approval.require_approval with input as {"environment": "staging", "confidence": 0.75, "actions": []}
		with data.kubernaut.config.approval as {}
}

test_production_destructive_always_needs_approval if {
	analysis := {"environment": "production", "confidence": 0.99, "actions": ["scaleDeployment", "drainNode"]}
	approval.require_approval with input as analysis
	approval.approval_reason == "destructive action drainNode in production" with input as analysis
}

test_production_safe_action_needs_no_approval if {
	not approval.require_approval with input as {"environment": "production", "confidence": 0.99, "actions": ["scaleDeployment"]}
}

test_reasons_are_combined if {
	analysis := {"environment": "production", "confidence": 0.5, "actions": ["deletePod"]}
	approval.approval_reason == "confidence 0.5 is below the threshold 0.8; destructive action deletePod in production" with input as analysis
}

test_missing_confidence_needs_approval if {
	approval.approval_reason == "the analysis reported no confidence" with input as {"environment": "staging", "actions": []}
}
