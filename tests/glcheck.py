"""Whether this machine can make the headless OpenGL context the rasteriser needs (``make setup``
installs Mesa's EGL); its tests skip with the reason where it cannot."""
from __future__ import annotations

import pytest

_PROBLEM: list = []


def opengl_problem() -> str | None:
    """Why no headless OpenGL context can be made here (None: it can). Checked once."""
    if not _PROBLEM:
        from core.render.raster.gl_renderer import RasterUnavailable, create_context

        try:
            create_context().release()
            _PROBLEM.append(None)
        except RasterUnavailable as err:
            _PROBLEM.append(str(err))
    return _PROBLEM[0]


def requires_opengl():
    """Skip marker for tests of the OpenGL rasteriser."""
    return pytest.mark.skipif(opengl_problem() is not None, reason=f"no OpenGL: {opengl_problem()}")
