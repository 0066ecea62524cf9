"""Kubernetes components: the tenancy baseline and the platform services (layer 2)."""
