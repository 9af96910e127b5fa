-- The touchpoints of each won deal inside the attribution lookback before it was won (by the
-- deal's lead, the deal itself, or its customer), ordered; a won deal without any gets one
-- 'unattributed' row so every won deal's value is credited in full. A view over the shared
-- macro: fct_revenue_attribution's full build reads it, its incremental runs call the macro for
-- the deals they recompute.
{{ attributable_touches() }}
