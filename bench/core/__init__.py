"""The generic harness: codec contract, registry, datasets, images, metrics, timing, evaluator, store, schema."""
