"""The rasterised renderer: the relief as triangle meshes drawn with OpenGL (the fast path)."""
