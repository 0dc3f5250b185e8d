"""The ``finks`` command line (``make demo`` calls ``finks demo``)."""
