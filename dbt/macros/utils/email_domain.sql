{#- The e-mail's domain: the stored `email_domain`, else, for an address written before the column was
    encrypted (not in the sealed `v2:` form), the part after its last @, lower case. -#}
{% macro email_domain(domain_col, email_col) -%}
    coalesce(
        {{ domain_col }},
        case when {{ email_col }} not like 'v2:%' and position('@' in {{ email_col }}) > 0
            then nullif(lower(regexp_replace(trim({{ email_col }}), '^.*@', '')), '')
        end
    )
{%- endmacro %}
