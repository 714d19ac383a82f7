"""The paper's reported figures (NeRFFaceSpeech, Tables 1 and 2), for the report to stand beside.

Copied as numbers from the paper's tables (Unsplash and HDTF test sets). Their CSIM is ArcFace
cosine similarity and LSE-D/LSE-C come from SyncNet; ours are stand-ins on other models, so the
rows are context, not a like-for-like comparison.
"""
from __future__ import annotations

from dataclasses import dataclass

METRICS = ("FID", "CSIM", "CPBD", "LSE-D", "LSE-C")
HIGHER_IS_BETTER = {"FID": False, "CSIM": True, "CPBD": True, "LSE-D": False, "LSE-C": True}


@dataclass(frozen=True)
class PaperRow:
    """One row of a paper table: method, dataset, condition and the five metrics."""

    table: str       # "Table 1" or "Table 2"
    method: str
    dataset: str     # "Unsplash" or "HDTF"
    condition: str   # "general", "input pose", "h-flipped pose", "delta"
    fid: float | None
    csim: float | None
    cpbd: float | None
    lse_d: float | None
    lse_c: float | None

    def values(self) -> dict[str, float | None]:
        return {"FID": self.fid, "CSIM": self.csim, "CPBD": self.cpbd, "LSE-D": self.lse_d, "LSE-C": self.lse_c}


def _row(table, method, dataset, condition, *vals) -> PaperRow:
    return PaperRow(table, method, dataset, condition, *vals)


TABLE1: tuple[PaperRow, ...] = (
    _row("Table 1", "Ground truth", "Unsplash", "general", 0.000, 1.000, 0.639, None, None),
    _row("Table 1", "SadTalker", "Unsplash", "general", 56.978, 0.886, 0.184, 7.989, 6.913),
    _row("Table 1", "NeRFFaceSpeech", "Unsplash", "general", 50.463, 0.747, 0.581, 8.869, 5.941),
    _row("Table 1", "Ground truth", "HDTF", "general", 0.000, 1.000, 0.301, 6.843, 8.398),
    _row("Table 1", "SadTalker", "HDTF", "general", 15.597, 0.937, 0.164, 6.718, 7.463),
    _row("Table 1", "NeRFFaceSpeech", "HDTF", "general", 36.994, 0.826, 0.225, 9.194, 5.729),
)

TABLE2: tuple[PaperRow, ...] = (
    _row("Table 2", "SadTalker", "Unsplash", "input pose", 54.953, 0.914, 0.166, 7.989, 6.913),
    _row("Table 2", "SadTalker", "Unsplash", "h-flipped pose", 70.640, 0.793, 0.195, 8.073, 6.788),
    _row("Table 2", "SadTalker", "Unsplash", "delta", -15.687, 0.122, -0.030, -0.084, 0.124),
    _row("Table 2", "NeRFFaceSpeech", "Unsplash", "input pose", 50.463, 0.747, 0.581, 8.869, 5.941),
    _row("Table 2", "NeRFFaceSpeech", "Unsplash", "h-flipped pose", 54.403, 0.671, 0.574, 8.866, 5.937),
    _row("Table 2", "NeRFFaceSpeech", "Unsplash", "delta", -3.939, 0.076, 0.006, 0.004, 0.004),
    _row("Table 2", "SadTalker", "HDTF", "input pose", 14.702, 0.959, 0.147, 7.618, 7.463),
    _row("Table 2", "SadTalker", "HDTF", "h-flipped pose", 23.710, 0.885, 0.171, 7.764, 7.260),
    _row("Table 2", "SadTalker", "HDTF", "delta", -9.009, 0.074, -0.024, -0.146, 0.203),
    _row("Table 2", "NeRFFaceSpeech", "HDTF", "input pose", 36.994, 0.826, 0.225, 9.194, 5.729),
    _row("Table 2", "NeRFFaceSpeech", "HDTF", "h-flipped pose", 44.363, 0.750, 0.229, 9.160, 5.815),
    _row("Table 2", "NeRFFaceSpeech", "HDTF", "delta", -7.369, 0.077, -0.004, 0.034, -0.086),
)

# Which of our figures stands in for which of the paper's metrics.
STAND_INS: dict[str, str] = {
    "FID": "not computed (Inception weights not obtainable offline)",
    "CSIM": "cosine similarity of dlib's 128-D ResNet face embeddings (source portrait vs frames) "
            "instead of ArcFace; dlib Euclidean distance and same-person rate (< 0.6) beside it",
    "CPBD": "CPBD itself (Narvekar and Karam 2011), implemented here",
    "LSE-D": "no SyncNet: best-lag Pearson correlation of FaceMesh mouth aperture with the speech "
             "envelope (higher is better, unlike a distance) and the lag itself (AV offset)",
    "LSE-C": "peak minus median of that correlation over lags of +-400 ms (like SyncNet's "
             "median-minus-minimum confidence); with phone labels also the mean aperture in "
             "bilabials / open vowels (lower is better)",
    "ID (internal difference)": "the same protocol: every figure at the input pose and the "
                                "horizontally flipped pose, Delta = input - flipped",
}
