"""Projection, KPIs, Erlang C, rules and operator commands. Never imports Textual."""
