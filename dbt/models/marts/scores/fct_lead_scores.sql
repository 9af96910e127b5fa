-- Every lead with its current score (ml.lead_scores), for ranked lead lists: a lead the scorer
-- has not seen yet has a null score and method 'unscored'.
select
    leads.lead_id::uuid as lead_id,
    leads.tenant_id::uuid as tenant_id,
    leads.owner_name::text as owner_name,
    leads.lead_source::text as lead_source,
    leads.lead_status::text as lead_status,
    leads.is_converted::boolean as is_converted,
    scores.score::integer as score,
    case
        when scores.score is null then 'unscored'
        when scores.score >= 80 then 'hot'
        when scores.score >= 60 then 'warm'
        when scores.score >= 40 then 'cool'
        else 'cold'
    end::text as score_band,
    scores.confidence::double precision as confidence,
    coalesce(scores.method, 'unscored')::text as method,
    scores.model_version::text as model_version,
    scores.scored_at::timestamptz as scored_at
from {{ ref('dim_leads') }} as leads
left join {{ source('ml', 'lead_scores') }} as scores
    on scores.lead_id = leads.lead_id and scores.tenant_id = leads.tenant_id
