-- one row per unit per cell, source and replication: its first-pass and final result (the one definition of a unit's disposition)
-- columns: cell_id varchar, source varchar, replication bigint, unit_id varchar, variant varchar, first_pass_result varchar, final_result varchar
-- columns: n_measurements bigint, n_characteristics bigint, n_expected_characteristics bigint
-- columns: n_missing_characteristics bigint, missing_characteristics varchar[], n_failed_first bigint
-- columns: n_remeasured_characteristics bigint, first_measured_at timestamptz, reinspected_at timestamptz
-- columns: last_measured_at timestamptz, defects varchar, is_inspected boolean, is_first_pass_good boolean
-- columns: is_first_pass_failed boolean, is_reworked boolean, is_final_good boolean, is_scrapped boolean
-- columns: is_escaped boolean, is_fully_measured boolean
-- unique: cell_id, source, replication, unit_id
-- not_null: cell_id, source, replication, unit_id, first_pass_result, final_result, n_measurements, n_expected_characteristics
-- not_null: is_inspected, is_first_pass_good, is_first_pass_failed, is_reworked, is_final_good, is_scrapped, is_escaped
-- not_null: is_fully_measured
-- check: first_pass_result in ('good', 'failed', 'not_inspected')
-- check: final_result in ('good', 'reworked', 'scrapped', 'escaped')
-- check: final_result <> 'good' or first_pass_result = 'good'
-- check: final_result not in ('reworked', 'scrapped') or first_pass_result = 'failed'
-- check: first_pass_result <> 'not_inspected' or final_result = 'escaped'
-- check: n_measurements > 0 or first_pass_result = 'not_inspected'
-- check: is_final_good = (final_result in ('good', 'reworked'))
-- Units: every unit_id of the events and the quality measurements. Measurements and their conformity come from
-- mart_an_measurements (lsl <= value <= usl, a missing limit does not bind, no defect code; first pass = the
-- first measurement of a characteristic on the unit). A unit's expected characteristics are those measured on
-- any unit of its variant in its source and replication (a characteristic never measured on that variant is not expected).
-- first_pass_result:
--   failed         a first measurement of some characteristic does not conform;
--   not_inspected  none failed, but an expected characteristic was never measured (or nothing was): unknown, never good;
--   good           every expected characteristic measured, every first measurement conforms.
-- final_result:
--   good      first pass good and the latest measurement of every characteristic conforms;
--   reworked  first pass failed, then re-inspected (a characteristic measured again), the latest measurement of
--             every characteristic measured again conforms, and no expected characteristic is missing: good after
--             rework (the re-inspection decides; what the rework re-made by hand without a new measurement, such
--             as a screw, counts as repaired);
--   scrapped  first pass failed and not reworked to good (never re-inspected, or the re-inspection failed);
--   escaped   left without being known to conform, yet not scrapped: not inspected in full, or a nonconforming
--             measurement recorded after a passing first pass, or reworked to good with an expected
--             characteristic never measured.
-- is_reworked: first pass failed and re-inspected, whatever the outcome (rework was done and costs).
-- is_fully_measured: every expected characteristic measured (whatever the result): the unit is in the sample
-- when inspection samples, which a failed screw torque alone does not decide.
with measurements as not materialized (
    select cell_id, source, replication, unit_id, characteristic, measured_at, is_first_pass, is_conforming, defect
    from mart_an_measurements
),

per_characteristic as (
    select
        cell_id,
        source,
        replication,
        unit_id,
        characteristic,
        count(*) as n_times,
        bool_and(is_conforming) filter (where is_first_pass) as is_first_conforming,
        arg_max(is_conforming, measured_at) as is_latest_conforming,
        min(measured_at) as first_measured_at,
        max(measured_at) as last_measured_at,
        min(measured_at) filter (where not is_first_pass) as reinspected_at
    from measurements
    group by cell_id, source, replication, unit_id, characteristic
),

per_unit as (
    select
        cell_id,
        source,
        replication,
        unit_id,
        count(*) as n_characteristics,
        sum(n_times)::bigint as n_measurements,
        count(*) filter (where not is_first_conforming) as n_failed_first,
        count(*) filter (where n_times > 1) as n_remeasured_characteristics,
        coalesce(bool_and(is_latest_conforming) filter (where n_times > 1), true) as is_reinspection_conforming,
        bool_and(is_latest_conforming) as is_latest_conforming,
        min(first_measured_at) as first_measured_at,
        max(last_measured_at) as last_measured_at,
        min(reinspected_at) as reinspected_at
    from per_characteristic
    group by cell_id, source, replication, unit_id
),

unit_events as (
    select cell_id, source, replication, unit_id, max(variant) as variant
    from stg_events
    where unit_id is not null
    group by cell_id, source, replication, unit_id
),

units as (
    select cell_id, source, replication, unit_id, e.variant
    from unit_events as e
    full join (select cell_id, source, replication, unit_id from per_unit) using (cell_id, source, replication, unit_id)
),

expected as (
    select distinct u.cell_id, u.source, u.replication, u.variant, m.characteristic
    from per_characteristic as m
    inner join units as u using (cell_id, source, replication, unit_id)
),

n_expected as (
    select cell_id, source, replication, variant, count(*) as n_expected_characteristics
    from expected
    group by cell_id, source, replication, variant
),

defects as (
    -- few measurements carry a defect: aggregate those alone
    select cell_id, source, replication, unit_id, string_agg(distinct defect, ',' order by defect) as defects
    from measurements
    where defect is not null
    group by cell_id, source, replication, unit_id
),

incomplete as (
    -- a unit measured on every expected characteristic misses none (its own are among its variant's)
    select u.cell_id, u.source, u.replication, u.unit_id, u.variant
    from units as u
    left join per_unit as p using (cell_id, source, replication, unit_id)
    left join n_expected as n
        on n.cell_id = u.cell_id and n.source = u.source and n.replication = u.replication and n.variant is not distinct from u.variant
    where coalesce(p.n_characteristics, 0) < coalesce(n.n_expected_characteristics, 0)
),

missing as (
    select
        u.cell_id,
        u.source,
        u.replication,
        u.unit_id,
        list(x.characteristic order by x.characteristic) as missing_characteristics
    from incomplete as u
    inner join expected as x
        on x.cell_id = u.cell_id and x.source = u.source and x.replication = u.replication and x.variant is not distinct from u.variant
    anti join (select * from per_characteristic semi join incomplete using (cell_id, source, replication, unit_id)) as c
        on c.cell_id = u.cell_id and c.source = u.source and c.replication = u.replication and c.unit_id = u.unit_id
        and c.characteristic = x.characteristic
    group by u.cell_id, u.source, u.replication, u.unit_id
),

judged as (
    select
        u.cell_id,
        u.source,
        u.replication,
        u.unit_id,
        u.variant,
        coalesce(p.n_measurements, 0) as n_measurements,
        coalesce(p.n_characteristics, 0) as n_characteristics,
        coalesce(n.n_expected_characteristics, 0) as n_expected_characteristics,
        coalesce(len(m.missing_characteristics), 0) as n_missing_characteristics,
        coalesce(m.missing_characteristics, []::varchar[]) as missing_characteristics,
        coalesce(p.n_failed_first, 0) as n_failed_first,
        coalesce(p.n_remeasured_characteristics, 0) as n_remeasured_characteristics,
        p.first_measured_at,
        p.reinspected_at,
        p.last_measured_at,
        d.defects,
        p.is_reinspection_conforming,
        p.is_latest_conforming
    from units as u
    left join per_unit as p using (cell_id, source, replication, unit_id)
    left join defects as d using (cell_id, source, replication, unit_id)
    left join missing as m using (cell_id, source, replication, unit_id)
    left join n_expected as n
        on n.cell_id = u.cell_id and n.source = u.source and n.replication = u.replication and n.variant is not distinct from u.variant
),

results as (
    select
        *,
        case
            when n_failed_first > 0 then 'failed'
            when n_measurements = 0 or n_missing_characteristics > 0 then 'not_inspected'
            else 'good'
        end as first_pass_result
    from judged
),

decided as (
    select
        cell_id,
        source,
        replication,
        unit_id,
        variant,
        first_pass_result,
        case
            when first_pass_result = 'good' and is_latest_conforming then 'good'
            when first_pass_result = 'good' then 'escaped'
            when first_pass_result = 'not_inspected' then 'escaped'
            when n_remeasured_characteristics = 0 or not is_reinspection_conforming then 'scrapped'
            when n_missing_characteristics > 0 then 'escaped'
            else 'reworked'
        end as final_result,
        * exclude (cell_id, source, replication, unit_id, variant, first_pass_result, is_reinspection_conforming, is_latest_conforming)
    from results
),

final as (
    select
        *,
        first_pass_result <> 'not_inspected' as is_inspected,
        first_pass_result = 'good' as is_first_pass_good,
        first_pass_result = 'failed' as is_first_pass_failed,
        first_pass_result = 'failed' and n_remeasured_characteristics > 0 as is_reworked,
        final_result in ('good', 'reworked') as is_final_good,
        final_result = 'scrapped' as is_scrapped,
        final_result = 'escaped' as is_escaped,
        n_measurements > 0 and n_missing_characteristics = 0 as is_fully_measured
    from decided
)

select * from final
