"""Managed change of a plant config (management of change, MOC): replay a candidate on the trail, and the
two-person proposal/approval of a candidate before the audited reload applies it."""
