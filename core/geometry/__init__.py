"""Camera geometry shared by preprocessing, rendering and evaluation (see ``pinhole``)."""
