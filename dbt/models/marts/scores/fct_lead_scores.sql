{{ config(indexes=[
    {'columns': ['tenant_id', 'lead_id'], 'unique': True},
    {'columns': ['tenant_id', 'score desc', 'lead_id']}
]) }}
-- Every lead with its current score (ml.lead_scores) and the score's explanation, for ranked
-- lead lists and the lead page: a lead the scorer has not seen yet has a null score and method
-- 'unscored'. Bands: hot from var lead_score_hot_min, warm from lead_score_warm_min (the same
-- numbers as crm/bands.py).
select
    leads.lead_id::uuid as lead_id,
    leads.tenant_id::uuid as tenant_id,
    leads.assigned_user_id::uuid as assigned_user_id,
    leads.owner_label::text as owner_label,
    leads.lead_source::text as lead_source,
    leads.lead_status::text as lead_status,
    leads.is_converted::boolean as is_converted,
    scores.score::integer as score,
    case
        when scores.score is null then 'unscored'
        when scores.score >= {{ var('lead_score_hot_min') }} then 'hot'
        when scores.score >= {{ var('lead_score_warm_min') }} then 'warm'
        else 'cold'
    end::text as score_band,
    scores.confidence::double precision as confidence,
    coalesce(scores.method, 'unscored')::text as method,
    scores.model_version::text as model_version,
    scores.factors::jsonb as factors,
    scores.recommendations::jsonb as recommendations,
    scores.next_best_actions::jsonb as next_best_actions,
    scores.scored_at::timestamptz as scored_at
from {{ ref('dim_leads') }} as leads
left join {{ source('ml', 'lead_scores') }} as scores
    on scores.lead_id = leads.lead_id and scores.tenant_id = leads.tenant_id
