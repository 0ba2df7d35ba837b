package kubernaut.classification_test

import data.kubernaut.classification

signal(severity, namespace_labels) := {
	"signal": {"name": "HighErrorRate", "severity": severity, "labels": {"alertname": "HighErrorRate"}},
	"namespaceLabels": namespace_labels,
	"targetLabels": {"app": "web"},
}

test_production_critical_is_p0 if {
	classification.classification == {"environment": "production", "severity": "critical", "priority": "P0"} with input as signal("critical", {"kubernaut.ai/environment": "production"})
}

test_environment_from_env_label if {
	classification.environment == "staging" with input as signal("high", {"env": "staging"})
}

test_target_label_wins_over_namespace if {
	review := object.union(signal("high", {"env": "staging"}), {"targetLabels": {"kubernaut.ai/environment": "production"}})
	classification.environment == "production" with input as review
}

test_unknown_environment if {
	classification.environment == "unknown" with input as {"signal": {"severity": "low"}}
}

test_severity_aliases if {
	every raw, level in {"sev1": "critical", "P0": "critical", "page": "critical", "sev2": "high", "major": "high", "p1": "high", "warning": "medium", "sev3": "medium", "p2": "medium", "info": "low", "Low": "low", " INFO ": "low"} {
		classification.severity == level with input as signal(raw, {})
	}
}

test_unknown_severity_is_medium if {
	classification.severity == "medium" with input as signal("bananas", {})
}

test_missing_severity_is_medium if {
	classification.severity == "medium" with input as {"signal": {"name": "x"}}
}

test_non_string_severity_is_medium if {
	classification.severity == "medium" with input as signal(3, {})
}

test_most_severe_level_wins_on_overlapping_aliases if {
	classification.severity == "critical" with input as signal("sev1", {})
		with data.kubernaut.config.classification.severityAliases.high as ["sev1"]
}

test_priority_matrix if {
	classification.priority == "P1" with input as signal("high", {"env": "production"})
	classification.priority == "P1" with input as signal("critical", {"env": "staging"})
	classification.priority == "P3" with input as signal("low", {"env": "production"})
}

test_priority_of_other_environments if {
	classification.priority == "P2" with input as signal("critical", {"env": "development"})
	classification.priority == "P3" with input as signal("high", {})
}

test_priority_without_table if {
	classification.priority == "P3" with input as signal("critical", {"env": "production"})
		with data.kubernaut.config.classification as {}
}
