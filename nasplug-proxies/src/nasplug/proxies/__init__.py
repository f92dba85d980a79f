"""nasplug-proxies: zero-cost proxies, Eproxy + DPS and FT-ScoreNet."""
