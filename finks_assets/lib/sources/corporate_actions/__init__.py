"""Corporate-action adapters (splits, cash dividends), one per vendor, behind one interface
(:class:`~finks_assets.lib.sources.corporate_actions.base.ActionSource`)."""
