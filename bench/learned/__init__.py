"""The CompressAI toolkit: zoo facts, weights, bitstream, MACs, memory, complexity, training."""
