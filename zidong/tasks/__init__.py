"""Inference for every task from one pretrained run (engine), used by ``zidong generate`` and
``zidong eval``."""
