# Classification of a signal: environment, normalised severity and priority.
#
# Input: {"signal": {"severity": "...", "labels": {...}, ...},
#         "namespaceLabels": {...}, "targetLabels": {...}}
# Output: `classification` = {"environment", "severity", "priority"}.
package kubernaut.classification

import data.kubernaut.config
import data.kubernaut.lib

settings := object.get(config, "classification", {})

environment := lib.environment(object.get(input, "targetLabels", {}), object.get(input, "namespaceLabels", {}))

raw_severity := lower(trim_space(input.signal.severity)) if is_string(input.signal.severity)

# The severity levels whose alias list contains the raw severity; more than
# one only when the data is misconfigured, and then the most severe wins.
matching_levels contains level if {
	some level, aliases in object.get(settings, "severityAliases", {})
	raw_severity in aliases
}

level_order := ["critical", "high", "medium", "low"]

severity := level if {
	some level in level_order
	level in matching_levels
	not more_severe_match(level)
} else := object.get(settings, "defaultSeverity", "medium")

more_severe_match(level) if {
	some i, candidate in level_order
	candidate == level
	some j, other in level_order
	j < i
	other in matching_levels
}

priority_table := object.get(object.get(settings, "priorities", {}), environment, object.get(settings, ["priorities", "*"], {}))

default priority := "P3"

priority := priority_table[severity]

classification := {"environment": environment, "severity": severity, "priority": priority}
