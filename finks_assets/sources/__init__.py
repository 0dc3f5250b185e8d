"""Vendor adapters behind one interface (:class:`finks_assets.sources.base.BarSource`)."""
