"""Audit: diff two report runs, verify a run against a recomputation, close fiscal cycles."""
