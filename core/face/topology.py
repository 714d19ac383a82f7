"""Named landmark indices of the MediaPipe FaceMesh topology (478 points with refined irises).

Contours are ordered from the subject's right (image left in a frontal photo) to the subject's
left. "Left"/"Right" are the subject's own sides. A test checks these against MediaPipe's own
connection sets, so no bare landmark numbers need to appear elsewhere in the code.
"""
from __future__ import annotations

NUM_LANDMARKS = 478
NUM_MESH_VERTICES = 468  # without the 10 iris points

NOSE_TIP = 1
CHIN = 152
FOREHEAD = 10

MOUTH_CORNER_RIGHT = 61
MOUTH_CORNER_LEFT = 291
INNER_CORNER_RIGHT = 78
INNER_CORNER_LEFT = 308
UPPER_LIP_INNER_MID = 13
LOWER_LIP_INNER_MID = 14

LIP_OUTER_UPPER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291)
LIP_OUTER_LOWER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
LIP_INNER_UPPER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308)
LIP_INNER_LOWER = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308)

# Eye contours (the lid margin), from the outer to the inner corner.
RIGHT_EYE_UPPER = (33, 246, 161, 160, 159, 158, 157, 173, 133)
RIGHT_EYE_LOWER = (33, 7, 163, 144, 145, 153, 154, 155, 133)
LEFT_EYE_UPPER = (263, 466, 388, 387, 386, 385, 384, 398, 362)
LEFT_EYE_LOWER = (263, 249, 390, 373, 374, 380, 381, 382, 362)
RIGHT_EYE_UPPER_MID = 159
RIGHT_EYE_LOWER_MID = 145
LEFT_EYE_UPPER_MID = 386
LEFT_EYE_LOWER_MID = 374

# Eyebrows, from the outer to the inner end.
RIGHT_BROW_UPPER = (70, 63, 105, 66, 107)
RIGHT_BROW_LOWER = (46, 53, 52, 65, 55)
LEFT_BROW_UPPER = (300, 293, 334, 296, 336)
LEFT_BROW_LOWER = (276, 283, 282, 295, 285)

RIGHT_IRIS_CENTER = 468
RIGHT_IRIS_RING = (469, 470, 471, 472)
LEFT_IRIS_CENTER = 473
LEFT_IRIS_RING = (474, 475, 476, 477)

FACE_OVAL = (
    10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
    152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109,
)


def inner_lip_polygon() -> tuple[int, ...]:
    """Closed inner-lip contour (upper lip right->left, then lower lip left->right)."""
    return LIP_INNER_UPPER + tuple(reversed(LIP_INNER_LOWER[1:-1]))


def outer_lip_polygon() -> tuple[int, ...]:
    """Closed outer-lip contour."""
    return LIP_OUTER_UPPER + tuple(reversed(LIP_OUTER_LOWER[1:-1]))
