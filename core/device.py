"""Resolve the compute device once. Never touch torch.cuda unguarded elsewhere."""
from __future__ import annotations

import torch

from core.errors import UserInputError


def cuda_available() -> bool:
    try:
        return bool(torch.cuda.is_available())
    except Exception:  # a broken driver must not crash a CPU run
        return False


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """"auto" -> CUDA when present, else CPU. "cuda" without CUDA is a user error."""
    if isinstance(name, torch.device):
        return name
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda") if cuda_available() else torch.device("cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not cuda_available():
            raise UserInputError("--device cuda was asked for, but no CUDA device is available; use --device cpu.")
        return torch.device(name)
    raise UserInputError(f"unknown device {name!r}; use auto, cpu or cuda")
