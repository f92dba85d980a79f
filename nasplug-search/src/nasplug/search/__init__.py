"""nasplug-search: search strategies in ask/tell form."""
