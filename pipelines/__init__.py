"""Prefect 3 flows composing the neurofeedback library (thin wrappers; science stays in the library)."""
