"""Built-in perturbation sets: MedMNIST-C's per-dataset corruption lists and the plan's mild P5 shifts."""
