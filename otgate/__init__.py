"""otgate: a deterministic gateway between AI recommendation engines and industrial control systems.

otgate is not a safety instrumented system; plant safety comes from the PLC interlocks and the SIS.
"""

__version__ = "0.1.0"
