-- The energy-register rule (SPEC.md "Energy registers"), written once: the ingest quarantines the readings it
-- calls bad_fall, and mart_energy_intervals takes every register interval's energy from it.
-- energy_register_readings('<table or view>') reads rows with cell_id, source, replication, meter_id, ts, energy_kwh, register_max_kwh
-- (other columns pass through; at most one reading per cell, source, replication, meter and ts) and returns each register reading
-- (energy_kwh not null) with:
--   reading_kind  first (the meter's first reading), increase, reset, rollover or bad_fall
--   reference_kwh the reading it is compared with: the highest reading since the last reset or rollover (for a
--                 reset or rollover, the reading just before it)
--   delta_kwh     the energy of the interval it ends: increase -> the rise; reset (below 1 % of the reference)
--                 -> the new reading; rollover (the wrapped delta register_max_kwh - previous + new is at most
--                 10 % of the declared maximum) -> the wrapped delta; bad_fall (any other fall) -> 0, as the
--                 reading is not believed; first -> null
--   prev_at       the time of the last reading that was not a bad fall: the interval is prev_at .. ts
-- A fall is first judged against the reading just before it, then again against the highest reading since the
-- last reset, so a bad reading just before a reset neither hides the reset nor shifts the next delta.
create or replace temp macro energy_register_readings(readings) as table
with ordered as (
    select *, lag(energy_kwh) over w as prev_kwh
    from query_table(readings)
    where energy_kwh is not null
    window w as (partition by cell_id, source, replication, meter_id order by ts)
),

first_look as (
    select
        *,
        coalesce(
            energy_kwh < prev_kwh and register_max_kwh is not null
            and register_max_kwh - prev_kwh + energy_kwh <= 0.1 * register_max_kwh,
            false
        ) as is_rollover,
        coalesce(energy_kwh < prev_kwh and energy_kwh < 0.01 * prev_kwh, false) as is_reset_1
    from ordered
),

segments_1 as (
    select
        *,
        sum((is_rollover or is_reset_1)::int) over (
            partition by cell_id, source, replication, meter_id order by ts rows unbounded preceding
        ) as segment_1
    from first_look
),

second_look as (
    select
        *,
        is_reset_1 or coalesce(
            not is_rollover and energy_kwh < 0.01 * max(energy_kwh) over (
                partition by cell_id, source, replication, meter_id, segment_1 order by ts
                rows between unbounded preceding and 1 preceding
            ),
            false
        ) as is_reset
    from segments_1
),

segments_2 as (
    select
        *,
        sum((is_rollover or is_reset)::int) over (
            partition by cell_id, source, replication, meter_id order by ts rows unbounded preceding
        ) as segment_2
    from second_look
),

judged as (
    select
        *,
        max(energy_kwh) over (
            partition by cell_id, source, replication, meter_id, segment_2 order by ts rows between unbounded preceding and 1 preceding
        ) as segment_max_kwh
    from segments_2
),

kinds as (
    select
        * exclude (is_rollover, is_reset_1, segment_1, is_reset, segment_2, segment_max_kwh),
        case
            when prev_kwh is null then 'first'
            when is_rollover then 'rollover'
            when is_reset then 'reset'
            when energy_kwh < segment_max_kwh then 'bad_fall'
            else 'increase'
        end as reading_kind,
        case when is_rollover or is_reset then prev_kwh else segment_max_kwh end as reference_kwh
    from judged
),

final as (
    select
        * exclude (prev_kwh),
        case reading_kind
            when 'increase' then energy_kwh - reference_kwh
            when 'reset' then energy_kwh
            when 'rollover' then register_max_kwh - reference_kwh + energy_kwh
            when 'bad_fall' then 0.0
        end as delta_kwh,
        last_value(case when reading_kind <> 'bad_fall' then ts end ignore nulls) over (
            partition by cell_id, source, replication, meter_id order by ts rows between unbounded preceding and 1 preceding
        ) as prev_at
    from kinds
)

select * from final
