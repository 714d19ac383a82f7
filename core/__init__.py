"""NeRFFaceSpeech-style one-shot talking head engine (CPU first, CUDA when present)."""
