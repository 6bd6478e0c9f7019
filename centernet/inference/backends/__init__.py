"""The engines a Detector runs its network with: one module per backend, one registry (registry.py)."""
