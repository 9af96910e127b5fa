{#- The activity types a sales rep starts (e-mails sent, calls made, meetings scheduled,
    proposals and contracts sent), upper case as staged. Lead responses measure the time since
    the last of them; deal touchpoints are made of them. Returns a list. -#}
{% macro outbound_activity_types() -%}
    {{ return(['EMAIL_SENT', 'CALL_MADE', 'MEETING_SCHEDULED', 'PROPOSAL_SENT', 'CONTRACT_SENT']) }}
{%- endmacro %}
