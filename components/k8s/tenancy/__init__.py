"""The tenancy baseline of every namespace: Pod Security, quota, limits, NetworkPolicies, RBAC."""
