{#- Folder schemas are used as they are (staging, intermediate, analytics), not prefixed with
    the target schema: the migrations create them and other components read `analytics.*`. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema | trim }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
