"""Benchmarks at sub-district scale (PRODUCT.md, "Scale"); not part of the kit package."""
