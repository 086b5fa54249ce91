"""Analytics: conversions and their attribution, funnels and rates with small-cell suppression,
consent growth, charts and exports. It reads the append-only events; nothing reads it back."""
