"""Stages of a run: pretrain -> (train | features -> probe) -> calibrate -> evaluate."""
