# Helpers shared by every kubernaut policy package.
package kubernaut.lib

environment_label := "kubernaut.ai/environment"

# environment(labels, namespace_labels) is the environment of an object:
# its own `kubernaut.ai/environment` label, else its namespace's
# `kubernaut.ai/environment` label, else the namespace's `env` label,
# else "unknown". Empty values count as absent.
environment(labels, namespace_labels) := value if {
	value := labels[environment_label]
	value != ""
} else := value if {
	value := namespace_labels[environment_label]
	value != ""
} else := value if {
	value := namespace_labels.env
	value != ""
} else := "unknown"

# Environment of the object under admission review.
object_environment := environment(
	object.get(input, ["object", "metadata", "labels"], {}),
	object.get(input, "namespaceLabels", {}),
)
