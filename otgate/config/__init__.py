"""Reading plant config files (with FILE:LINE:COL problems) and rendering the config reference; the schema
itself is pure, in `otgate.core.config`."""
