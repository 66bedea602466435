"""Pretraining objectives (token, modality and sample level) and the losses they share."""
