{#-
    The trading-date window of a run: settings `start_date` and `end_date` ('YYYY-MM-DD',
    inclusive; see finks_run_setting), passed by Dagster for partitioned runs.

    * Neither var set (null / empty): the full history.
    * Only one set: open-ended on the other side.
    * `--full-refresh`: the window is ignored and the full history is rebuilt, so a full refresh
      can never truncate an incremental table to one window. (Not in dbt unit tests: they see
      only the window their `overrides: vars:` give, whatever the command line.)

    Values are validated before they are interpolated into SQL.
-#}
{% macro finks_window() %}
    {%- if flags.FULL_REFRESH and not finks_in_unit_test() -%}
        {{ return({'start': none, 'end': none}) }}
    {%- endif -%}
    {%- set start = finks_date_var('start_date') -%}
    {%- set end = finks_date_var('end_date') -%}
    {%- if start and end and start > end -%}
        {{ exceptions.raise_compiler_error(
            "var start_date=" ~ start ~ " is after end_date=" ~ end) }}
    {%- endif -%}
    {{ return({'start': start, 'end': end}) }}
{% endmacro %}


{#-
    A per-run setting: the dbt var `name` when it is given (`--vars`, by hand), else the
    environment variable FINKS_DBT_<NAME>, which is how Dagster passes its run's window, lake
    root and daily-bars source.

    Why not `--vars`: dbt re-parses the whole project whenever the command-line vars change
    (~3 s, i.e. every partitioned run), while an environment variable read only at execution
    time (`execute` is false while parsing) is invisible to the parser, so each run starts from
    the saved partial parse. Parse-time renderings only collect refs and config, so they do not
    need the value. The project's own vars are null, so `var(name, none)` is none unless given.

    dbt unit tests are hermetic: they see only their own `overrides: vars:`, never the
    command line's vars nor the environment. They run inside every `dbt build`, and a run's
    window would otherwise filter their fixture rows away.
-#}
{% macro finks_run_setting(name, default=none) %}
    {%- if finks_in_unit_test() -%}
        {%- set value = ((model.get('overrides') or {}).get('vars') or {}).get(name) -%}
    {%- else -%}
        {%- set value = var(name, none) -%}
        {%- if value is none and execute -%}
            {%- set value = env_var('FINKS_DBT_' ~ (name | upper), '') -%}
        {%- endif -%}
    {%- endif -%}
    {{ return(default if value is none or (value | string | trim) == '' else value) }}
{% endmacro %}


{#- Whether the SQL being rendered is a dbt unit test's (the model under test, with fixtures). -#}
{% macro finks_in_unit_test() %}
    {{ return(model is defined and model is mapping and model.get('resource_type') == 'unit_test') }}
{% endmacro %}


{#- A date setting as 'YYYY-MM-DD', or none when it is unset. -#}
{% macro finks_date_var(name) %}
    {%- set raw = finks_run_setting(name) -%}
    {%- if raw is none -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set text = (raw ~ '') | trim -%}
    {%- if text == '' or text | lower in ('none', 'null') -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set match = modules.re.fullmatch('([0-9]{4})-([0-9]{2})-([0-9]{2})', text) -%}
    {%- if not match
           or (match.group(2) | int) < 1 or (match.group(2) | int) > 12
           or (match.group(3) | int) < 1 or (match.group(3) | int) > 31 -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ "=" ~ (raw | string) ~ " is not a date in YYYY-MM-DD form") }}
    {%- endif -%}
    {{ return(text) }}
{% endmacro %}


{#-
    A SQL predicate on `column` (a DATE) for the run's window; `true` for the full history.
    through_latest=true drops the upper bound: [start_date, latest], used by models whose rows
    depend on earlier days (fct_daily_features), so days after the window are recomputed too.
-#}
{% macro finks_window_predicate(column, through_latest=false) %}
    {%- set window = finks_window() -%}
    {%- set parts = [] -%}
    {%- if window['start'] -%}
        {%- do parts.append(column ~ " >= date '" ~ window['start'] ~ "'") -%}
    {%- endif -%}
    {%- if window['end'] and not through_latest -%}
        {%- do parts.append(column ~ " <= date '" ~ window['end'] ~ "'") -%}
    {%- endif -%}
    {{- return(parts | join(' and ') if parts else 'true') -}}
{% endmacro %}
