"""Assurance evidence: requirements as data, what proves each one, and the commissioning self-test."""
