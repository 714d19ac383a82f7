"""What the face does in each frame: the expression track (driver + motion policy)."""
