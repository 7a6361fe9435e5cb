-- one row per unit per source: its variant, and its cycle times and ends per station
-- unique: source, unit_id
-- not_null: source, unit_id, first_start_at, last_end_at, stations
-- check: last_end_at >= first_start_at
-- check: len(stations) = len(station_end_at) and len(stations) = len(station_cycle_s)
-- references: mart_unit_disposition (source, unit_id)
-- Per station (parallel lists, in station order) the end and the total time of its complete cycles there, as
-- mart_cycles pairs them (the one cycle pairing). Timestamps are UTC. A unit's disposition is in
-- mart_unit_disposition.
with cycles as (
    select source, station_id, unit_id, variant, started_at as start_at, ended_at as end_at, duration_s
    from mart_cycles
    where is_complete and unit_id is not null
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
