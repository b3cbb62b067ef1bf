"""The segmentation engine (see the module docstring once written)."""
