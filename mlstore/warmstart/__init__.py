"""Warm start: choose a base model (policies) and copy its weights into a new Keras model (keras)."""
