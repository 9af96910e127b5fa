"""ML for the CRM: lead scoring, deal win probability, churn, revenue forecasting, next best
action, a model registry with promotion gates and rule-based fallbacks.

Everything here is a plain function over Polars DataFrames (documented input schemas in
`ml.schemas`); `ml.marts` reads the feature marts as they are, `ml.store` writes `ml.*`. Each
model has one spec (`ml.specs`); `ml.training` (train candidates, gate, promote) and
`ml.scoring` (score with the rules as fallback) run every spec, for the command line (`ml.jobs`,
`crm ml ...`, `crm models ...`) and for the Dagster assets alike.
"""
