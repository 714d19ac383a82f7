"""The DearPyGui viewer: live, orbitable talking head with audio, microphone and sliders."""
