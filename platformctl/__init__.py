"""platformctl: the offline plan, and the laptop lifecycle, of the MLOps platform."""
