"""Insights: what the engagement data says about each person (adherence first)."""
