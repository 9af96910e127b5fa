"""ML for the CRM: lead scoring, deal win probability, churn, revenue forecasting, next best
action, a model registry with promotion gates and rule-based fallbacks.

Everything here is a plain function over Polars DataFrames (documented input schemas in
`ml.schemas`); `ml.store` reads the feature marts and writes `ml.*`; `ml.jobs` wires train →
register → promote → score; `crm models ...` and `crm ml ...` drive it from the command line.
"""
