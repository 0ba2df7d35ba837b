"""The controllers: one module per kind, each a pure ``decide`` over what ``observe`` gathered."""
