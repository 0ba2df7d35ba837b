# Who may approve what, and when an AI analysis needs a person's approval.
#
# `deny` is evaluated on admission reviews of RemediationRequests and
# WorkflowExecutions whose `kubernaut.ai/approval` annotation is being set or
# changed. `require_approval` / `approval_reason` are evaluated for an
# AIAnalysis decision (input: {environment, confidence, actions, ...}).
package kubernaut.approval

import data.kubernaut.config
import data.kubernaut.lib

approval_annotation := "kubernaut.ai/approval"

created_by_annotation := "kubernaut.ai/created-by"

approvable_kinds := {"RemediationRequest", "WorkflowExecution"}

settings := object.get(config, "approval", {})

approver_groups := object.get(settings, "approverGroups", [])

group_required_environments := object.get(settings, "groupRequiredEnvironments", ["production"])

destructive_actions := object.get(config, "destructiveActions", [])

default confidence_threshold := 0.8

confidence_threshold := settings.confidenceThreshold

# --- who may approve ------------------------------------------------------------

new_decision := object.get(input, ["object", "metadata", "annotations", approval_annotation], "")

old_decision := object.get(input, ["oldObject", "metadata", "annotations", approval_annotation], "")

decision_changed if {
	input.kind.kind in approvable_kinds
	input.operation in {"CREATE", "UPDATE"}
	new_decision != old_decision
}

username := object.get(input, ["userInfo", "username"], "")

groups := object.get(input, ["userInfo", "groups"], [])

approver if {
	some group in groups
	group in approver_groups
}

environment := lib.object_environment

deny contains msg if {
	decision_changed
	new_decision != ""
	not new_decision in {"approved", "rejected"}
	msg := sprintf("annotation %v must be \"approved\" or \"rejected\", not %q", [approval_annotation, new_decision])
}

deny contains msg if {
	decision_changed
	old_decision == "rejected"
	msg := sprintf("%v %v was rejected; a rejection is final", [input.kind.kind, input.name])
}

deny contains msg if {
	decision_changed
	new_decision in {"approved", "rejected"}
	environment in group_required_environments
	not approver
	msg := sprintf("%v may not decide on %v %v in %v: membership of one of [%v] is required", [
		username, input.kind.kind, input.name, environment, concat(", ", sort(approver_groups)),
	])
}

deny contains msg if {
	decision_changed
	new_decision in {"approved", "rejected"}
	not environment in group_required_environments
	not authenticated_person
	msg := sprintf("%v may not decide on %v %v: an authenticated person or a member of [%v] is required", [
		username, input.kind.kind, input.name, concat(", ", sort(approver_groups)),
	])
}

deny contains msg if {
	decision_changed
	new_decision == "approved"
	creator := input.object.metadata.annotations[created_by_annotation]
	creator == username
	msg := sprintf("%v may not approve %v %v: nobody approves a request they created", [username, input.kind.kind, input.name])
}

# Outside the group-required environments any authenticated user may decide,
# except anonymous users and service accounts (automation never approves)
# unless they belong to an approver group.
authenticated_person if approver

authenticated_person if {
	"system:authenticated" in groups
	not startswith(username, "system:serviceaccount:")
	username != "system:anonymous"
	username != ""
}

# --- does an analysis need approval? -------------------------------------------

approval_reasons contains msg if {
	is_number(input.confidence)
	input.confidence < confidence_threshold
	msg := sprintf("confidence %v is below the threshold %v", [input.confidence, confidence_threshold])
}

approval_reasons contains msg if {
	not is_number(input.confidence)
	msg := "the analysis reported no confidence"
}

approval_reasons contains msg if {
	input.environment == "production"
	some action in object.get(input, "actions", [])
	action in destructive_actions
	msg := sprintf("destructive action %v in production", [action])
}

default require_approval := false

require_approval if count(approval_reasons) > 0

default approval_reason := ""

approval_reason := concat("; ", sort(approval_reasons)) if count(approval_reasons) > 0
