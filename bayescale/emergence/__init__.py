"""Emergence: difficulty slices, Slice-and-Sandwich, sigmoidal emergence, the quanta model."""
