"""Per-frame rendering: orbit camera, ray deformation, relief ray marching, inner mouth, blending."""
