"""Earned autonomy: the gateway-side ledger of evidence and levels (docs/AUTONOMY.md)."""
