"""Evaluation: the paper's offline-computable metrics and its pose-robustness protocol.

Modules (each small, no UI imports):

- ``config``     typed frozen configs (CPBD constants, identity, lip sync, view grid, the run)
- ``cpbd``       sharpness, CPBD (Narvekar and Karam 2011)
- ``identity``   dlib 128-D face embeddings, the CSIM stand-in (optional dependency)
- ``lipsync``    mouth aperture vs speech envelope, best lag; bilabial vs open-vowel aperture
- ``rendering``  framing, the horizontally flipped pose, clip rendering and MP4 writing
- ``protocol``   per-clip metrics; input pose vs flipped pose and their difference (Table 2)
- ``multiview``  identity and face detection over a yaw x pitch grid
- ``paper``      the paper's Table 1 / 2 figures and which stand-in replaces which metric
- ``report``     report.json, report.md, contact sheets
- ``commands``   ``eval_command`` behind ``python main.py eval``

See ``README_EVAL.md`` in this folder.
"""
