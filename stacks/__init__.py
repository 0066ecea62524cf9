"""Typed stack settings: config is read once, here, into frozen validated models."""
