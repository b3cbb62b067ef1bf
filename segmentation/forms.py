"""Segmentation forms: the policy editor, overrides, run triggers."""
