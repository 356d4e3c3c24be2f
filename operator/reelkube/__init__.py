"""Reelkube: render video and speech as Kubernetes Jobs."""

__version__ = "0.1.0"
