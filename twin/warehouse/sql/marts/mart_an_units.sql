-- one row per unit per source: its variant, and its cycle times and ends per station
-- unique: source, unit_id
-- not_null: source, unit_id, first_start_at, last_end_at, stations
-- check: last_end_at >= first_start_at
-- check: len(stations) = len(station_end_at) and len(stations) = len(station_cycle_s)
-- references: mart_unit_disposition (source, unit_id)
-- Per station (parallel lists, in station order) the end and the total time of its cycles there. A cycle is a cycle_start
-- paired with the cycle_end of the same unit at the same station (n-th start with n-th end); unpaired events
-- are left out. Timestamps are UTC. A unit's quality disposition is in mart_unit_disposition.
with events as (
    select source, station_id, unit_id, variant, event, ts
    from stg_events
    where event in ('cycle_start', 'cycle_end') and unit_id is not null
),

numbered as (
    select
        *,
        row_number() over (partition by source, station_id, unit_id, event order by ts) as n_cycle
    from events
),

cycles as (
    select
        s.source,
        s.station_id,
        s.unit_id,
        coalesce(s.variant, e.variant) as variant,
        s.ts as start_at,
        e.ts as end_at,
        (epoch_us(e.ts) - epoch_us(s.ts)) / 1e6 as duration_s
    from numbered as s
    inner join numbered as e
        on s.source = e.source
        and s.station_id = e.station_id
        and s.unit_id = e.unit_id
        and s.n_cycle = e.n_cycle
        and e.event = 'cycle_end'
    where s.event = 'cycle_start'
),

per_station as (
    select
        source,
        unit_id,
        station_id,
        max(variant) as variant,
        min(start_at) as start_at,
        max(end_at) as end_at,
        sum(duration_s) as cycle_s
    from cycles
    group by source, unit_id, station_id
),

per_unit as (
    select
        source,
        unit_id,
        max(variant) as variant,
        min(start_at) as first_start_at,
        max(end_at) as last_end_at,
        list(station_id order by station_id) as stations,
        list(end_at order by station_id) as station_end_at,
        list(cycle_s order by station_id) as station_cycle_s
    from per_station
    group by source, unit_id
),

final as (
    select * from per_unit
)

select * from final
