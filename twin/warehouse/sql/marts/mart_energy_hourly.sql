-- one row per meter per source and replication per UTC hour: the energy (kWh) the meter recorded in that hour
-- unique: meter_id, source, replication, hour_at
-- not_null: meter_id, source, replication, hour_at, energy_kwh, method
-- check: energy_kwh >= 0
-- A register's delta between two readings belongs to the interval between them and is spread over the
-- hours it spans in proportion to time. A fall to below 1 % of the previous reading is a reset and a
-- wrap at a declared register_max_kwh a rollover: the new reading (plus the wrap) is the delta.
-- Meters without a register integrate power_w (trapezoids; gaps over one hour are not integrated).
with readings as (
    select * from stg_energy
),

registers as (
    select
        meter_id,
        source,
        replication,
        ts,
        energy_kwh,
        register_max_kwh,
        lag(ts) over w as prev_ts,
        lag(energy_kwh) over w as prev_kwh
    from readings
    where energy_kwh is not null
    window w as (partition by meter_id, source, replication order by ts)
),

register_meters as (
    select distinct meter_id, source, replication from registers
),

register_intervals as (
    select
        meter_id,
        source,
        replication,
        prev_ts as start_at,
        ts as end_at,
        case
            when energy_kwh >= prev_kwh then energy_kwh - prev_kwh
            when register_max_kwh is not null
                and register_max_kwh - prev_kwh + energy_kwh <= 0.1 * register_max_kwh
                then register_max_kwh - prev_kwh + energy_kwh
            when energy_kwh < 0.01 * prev_kwh then energy_kwh
            else 0.0  -- a fall the ingest could not judge (files loaded out of order): no energy claimed
        end as delta_kwh,
        energy_kwh < prev_kwh as is_reset,
        'register' as method
    from registers
    where prev_ts is not null
),

power_samples as (
    select
        r.meter_id,
        r.source,
        r.replication,
        r.ts,
        r.power_w,
        lag(r.ts) over w as prev_ts,
        lag(r.power_w) over w as prev_w
    from readings as r
    anti join register_meters as m
        on m.meter_id = r.meter_id and m.source = r.source and m.replication = r.replication
    where r.power_w is not null
    window w as (partition by r.meter_id, r.source, r.replication order by r.ts)
),

power_intervals as (
    select
        meter_id,
        source,
        replication,
        prev_ts as start_at,
        ts as end_at,
        (prev_w + power_w) / 2.0 * epoch(ts - prev_ts) / 3.6e6 as delta_kwh,
        false as is_reset,
        'power' as method
    from power_samples
    where prev_ts is not null and epoch(ts - prev_ts) <= 3600
),

intervals as (
    select * from register_intervals
    union all
    select * from power_intervals
),

hours as (
    select
        *,
        unnest(range(date_trunc('hour', start_at), end_at, interval 1 hour)) as hour_at
    from intervals
    where end_at > start_at
),

shares as (
    select
        meter_id,
        source,
        replication,
        hour_at,
        method,
        delta_kwh
        * epoch(least(end_at, hour_at + interval 1 hour) - greatest(start_at, hour_at))
        / epoch(end_at - start_at) as energy_kwh,
        is_reset and end_at > hour_at and end_at <= hour_at + interval 1 hour as is_reset_here
    from hours
),

final as (
    select
        meter_id,
        source,
        replication,
        hour_at,
        sum(energy_kwh) as energy_kwh,
        count(*) as n_intervals,
        count(*) filter (where is_reset_here) as n_resets,
        min(method) as method
    from shares
    group by meter_id, source, replication, hour_at
)

select * from final
