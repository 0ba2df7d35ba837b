"""A local Kubernetes API stand-in for development, demos and tests.

Never imported by production code.
"""
