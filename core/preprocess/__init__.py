"""Per-subject preprocessing: portrait -> face fit -> canonical 3D representation -> cache."""
