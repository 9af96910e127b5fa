{{ config(indexes=[
    {'columns': ['tenant_id', 'customer_id', 'occurred_at desc']},
    {'columns': ['tenant_id', 'deal_id', 'occurred_at desc']}
]) }}
-- One row per sales signal of a conversation message (written by integrations.conversations:
-- the conversation job over landed messages, or POST /conversations/analyze), with the customer
-- taken from the deal when the message named only the deal: the signals Customer 360 and the
-- deal view show.
with signals as (
    select * from {{ ref('stg_crm__conversation_signals') }}
),

deals as (
    select deal_id, customer_id, lead_id from {{ ref('stg_crm__deals') }}
)

select
    signals.signal_id,
    signals.tenant_id,
    signals.conversation_id,
    signals.message_event_id,
    coalesce(signals.customer_id, deals.customer_id) as customer_id,
    coalesce(signals.lead_id, deals.lead_id) as lead_id,
    signals.deal_id,
    signals.signal_type,
    signals.signal_value,
    signals.confidence,
    signals.resolved_date,
    signals.amount,
    signals.is_per_unit,
    signals.sentiment_compound,
    signals.analyzer_version,
    signals.occurred_at,
    {{ utc_day('signals.occurred_at') }} as occurred_day
from signals
left join deals on signals.deal_id = deals.deal_id
