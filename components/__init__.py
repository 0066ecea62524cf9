"""Pulumi ComponentResources: `aws` for layer 1, `k8s` for layers 2-4."""
