"""sagewiz's UI-free service layer: datasets, backends, ledger. Never imports a UI package."""
