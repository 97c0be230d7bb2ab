"""Lookout: a terminal live monitor for Kubernetes rollouts."""

__version__ = "0.1.0"
