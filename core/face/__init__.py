"""Face geometry: landmark topology, the parametric face model and the portrait fit."""
