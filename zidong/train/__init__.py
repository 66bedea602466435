"""Training: the graph-mode step and (later) the pretraining loop."""
