"""Built-in optional stages (a suite asks for them with ``stages: [name]``): robustness under shift."""
