"""A complete, closed human head (MakeHuman / MPFB2 base mesh, CC0) fitted to each subject."""
