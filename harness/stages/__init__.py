"""The core's stages, one module each; each module registers its stage with ``register_stages``.

pretrain -> features -> probe, or pretrain -> train; then calibrate -> evaluate. Which apply to a
cell is each stage's own decision (``Stage.applies``); the runner only walks the declared graph.
"""
