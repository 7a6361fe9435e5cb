-- one row per unit per source and replication: its measurements against the spec limits, first-pass and final result
-- unique: unit_id, source, replication
-- not_null: unit_id, source, replication, n_measurements, is_first_pass, is_pass
-- check: n_out_of_spec_first >= 0 and n_out_of_spec_final >= 0
-- A measurement is in spec when lsl <= value <= usl (a missing limit does not bind) and it carries no
-- defect_code. First pass: the first measurement of every characteristic is in spec. Pass: the last
-- measurement of every characteristic is in spec (after rework and re-inspection).
with quality as (
    select * from stg_quality
),

events as (
    select * from stg_events
),

judged as (
    select
        unit_id,
        source,
        replication,
        characteristic,
        ts,
        defect_code,
        (lsl is null or value >= lsl) and (usl is null or value <= usl) and defect_code is null as is_in_spec,
        row_number() over (partition by unit_id, source, replication, characteristic order by ts) as attempt,
        row_number() over (partition by unit_id, source, replication, characteristic order by ts desc) as from_last
    from quality
),

variants as (
    select
        unit_id,
        source,
        replication,
        min(variant) as variant
    from events
    where unit_id is not null and variant is not null
    group by unit_id, source, replication
),

per_unit as (
    select
        unit_id,
        source,
        replication,
        count(*) as n_measurements,
        count(distinct characteristic) as n_characteristics,
        count(*) filter (where attempt = 1 and not is_in_spec) as n_out_of_spec_first,
        count(*) filter (where from_last = 1 and not is_in_spec) as n_out_of_spec_final,
        max(attempt) > 1 as is_remeasured,
        min(ts) as first_measured_at,
        max(ts) as last_measured_at,
        string_agg(distinct defect_code, ',' order by defect_code) as defect_codes
    from judged
    group by unit_id, source, replication
),

final as (
    select
        p.unit_id,
        p.source,
        p.replication,
        v.variant,
        p.n_measurements,
        p.n_characteristics,
        p.n_out_of_spec_first,
        p.n_out_of_spec_final,
        p.n_out_of_spec_first = 0 as is_first_pass,
        p.n_out_of_spec_final = 0 as is_pass,
        p.is_remeasured,
        p.first_measured_at,
        p.last_measured_at,
        p.defect_codes
    from per_unit as p
    left join variants as v on v.unit_id = p.unit_id and v.source = p.source and v.replication = p.replication
)

select * from final
