-- one row per unit per cell, source and replication: its variant, and its cycle times and ends per station
-- unique: cell_id, source, replication, unit_id
-- not_null: cell_id, source, replication, unit_id, first_start_at, last_end_at, stations
-- check: last_end_at >= first_start_at
-- check: len(stations) = len(station_end_at) and len(stations) = len(station_cycle_s)
-- references: mart_unit_disposition (cell_id, source, replication, unit_id)
-- Per station (parallel lists, in station order) the end and the total time of its complete cycles there, as
-- mart_cycles pairs them (the one cycle pairing). Timestamps are UTC. A unit's disposition is in
-- mart_unit_disposition.
with cycles as (
    select cell_id, source, replication, station_id, unit_id, variant, started_at as start_at, ended_at as end_at, duration_s
    from mart_cycles
    where is_complete and unit_id is not null
),

per_station as (
    select
        cell_id,
        source,
        replication,
        unit_id,
        station_id,
        max(variant) as variant,
        min(start_at) as start_at,
        max(end_at) as end_at,
        sum(duration_s) as cycle_s
    from cycles
    group by cell_id, source, replication, unit_id, station_id
),

-- one sorted list of (station, end, cycle time) per unit, split into the three parallel lists (a sorted list is
-- cheaper than three ordered aggregates)
per_unit_stations as (
    select
        cell_id,
        source,
        replication,
        unit_id,
        max(variant) as variant,
        min(start_at) as first_start_at,
        max(end_at) as last_end_at,
        list_sort(list(struct_pack(station_id := station_id, end_at := end_at, cycle_s := cycle_s))) as per_station
    from per_station
    group by cell_id, source, replication, unit_id
),

per_unit as (
    select
        cell_id,
        source,
        replication,
        unit_id,
        variant,
        first_start_at,
        last_end_at,
        [s.station_id for s in per_station] as stations,
        [s.end_at for s in per_station] as station_end_at,
        [s.cycle_s for s in per_station] as station_cycle_s
    from per_unit_stations
),

final as (
    select * from per_unit
)

select * from final
