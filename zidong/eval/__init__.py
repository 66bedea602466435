"""Evaluation: loading a trained run and scoring it on any manifest."""
