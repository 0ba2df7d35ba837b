"""The validating and mutating admission webhook and its policy engine."""
