"""Software-defined assets, one module per medallion layer."""
