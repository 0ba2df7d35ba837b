package kubernaut.lib_test

import data.kubernaut.lib

test_object_label_wins if {
	lib.environment({"kubernaut.ai/environment": "production"}, {"kubernaut.ai/environment": "staging", "env": "dev"}) == "production"
}

test_namespace_label_when_object_has_none if {
	lib.environment({}, {"kubernaut.ai/environment": "staging", "env": "dev"}) == "staging"
}

test_namespace_env_label_last if {
	lib.environment({"app": "web"}, {"env": "development"}) == "development"
}

test_empty_values_are_absent if {
	lib.environment({"kubernaut.ai/environment": ""}, {"kubernaut.ai/environment": "", "env": "qa"}) == "qa"
}

test_unknown_without_labels if {
	lib.environment({}, {}) == "unknown"
}

test_object_environment_reads_review_input if {
	lib.object_environment == "production" with input as {
		"object": {"metadata": {"labels": {"kubernaut.ai/environment": "production"}}},
		"namespaceLabels": {"env": "staging"},
	}
}

test_object_environment_without_namespace_labels if {
	lib.object_environment == "unknown" with input as {"object": {"metadata": {"name": "x"}}}
}
