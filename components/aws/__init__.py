"""Layer 1: the AWS foundation, one ComponentResource per module."""
