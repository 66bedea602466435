"""Search over autoregressive decoders, independent of how logits are computed (a checkpointed Cell
or an exported MINDIR graph), so that deployment reuses exactly the same decoding."""
from .search import beam_search, greedy_search, sample_search

__all__ = ["beam_search", "greedy_search", "sample_search"]
