"""The slim reconciler: controller runtime, controllers, audit trail, action runner."""
