-- Lead activity events with the time since the rep's last outbound touch (the response time
-- of inbound activities such as e-mail opens, clicks, answered calls and form submissions).
{{ lead_activity_responses(ref('stg_raw__lead_activities')) }}
