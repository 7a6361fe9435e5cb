-- one row per meter per cell, source and replication per interval between two readings: the energy (kWh) the meter recorded in it
-- columns: meter_id varchar, cell_id varchar, source varchar, replication bigint, start_at timestamptz, end_at timestamptz, energy_kwh double
-- columns: reading_kind varchar, method varchar
-- unique: meter_id, cell_id, source, replication, end_at
-- not_null: meter_id, cell_id, source, replication, start_at, end_at, energy_kwh, reading_kind, method
-- check: end_at > start_at
-- check: energy_kwh >= 0
-- check: reading_kind in ('increase', 'reset', 'rollover', 'bad_fall', 'power')
-- A register's interval runs from its last believed reading to the next reading, with the energy of the
-- energy-register rule (sql/macros/energy_register.sql: a rise, a reset, a rollover, or a bad fall at 0 kWh, kept
-- here flagged; the ingest quarantines every bad fall it can judge, so one shows here only when files were loaded
-- out of time order). Meters without a register integrate power_w (trapezoids; gaps over one hour are not
-- integrated). Timestamps are UTC, so an interval across a DST change lasts its true length.
with readings as (
    select * from stg_energy
),

register_meters as (
    select distinct meter_id, cell_id, source, replication from readings where energy_kwh is not null
),

register_intervals as (
    select
        meter_id,
        cell_id,
        source,
        replication,
        prev_at as start_at,
        ts as end_at,
        delta_kwh as energy_kwh,
        reading_kind,
        'register' as method
    from energy_register_readings('stg_energy')
    where reading_kind <> 'first'
),

power_samples as (
    select
        r.meter_id,
        r.cell_id,
        r.source,
        r.replication,
        r.ts,
        r.power_w,
        lag(r.ts) over w as prev_ts,
        lag(r.power_w) over w as prev_w
    from readings as r
    anti join register_meters as m
        on m.meter_id = r.meter_id and m.cell_id = r.cell_id and m.source = r.source and m.replication = r.replication
    where r.power_w is not null
    window w as (partition by r.meter_id, r.cell_id, r.source, r.replication order by r.ts)
),

power_intervals as (
    select
        meter_id,
        cell_id,
        source,
        replication,
        prev_ts as start_at,
        ts as end_at,
        (prev_w + power_w) / 2.0 * epoch(ts - prev_ts) / 3.6e6 as energy_kwh,
        'power' as reading_kind,
        'power' as method
    from power_samples
    where prev_ts is not null and epoch(ts - prev_ts) <= 3600
),

final as (
    select * from register_intervals
    union all
    select * from power_intervals
)

select * from final
