-- one row per unit per source and replication: its variant, cycle times and ends per station, and its quality disposition
-- unique: source, replication, unit_id
-- not_null: source, replication, unit_id, first_start_at, last_end_at, stations
-- check: last_end_at >= first_start_at
-- check: len(stations) = len(station_end_at) and len(stations) = len(station_cycle_s)
-- check: coalesce(not (is_first_pass_good and is_reworked), true)
-- Per station (parallel lists, in station order) the end and the total time of its cycles there. A cycle is a cycle_start
-- paired with the cycle_end of the same unit at the same station (n-th start with n-th end); unpaired events
-- are left out. Timestamps are UTC.
-- Quality (null without measurements): a measurement conforms when lsl <= value <= usl (a missing limit does not
-- bind) and it has no defect code. First pass = the first measurement of each characteristic; a unit that failed
-- it and was measured again is reworked; it ends good when every measurement at its last measurement time
-- conforms.
with events as (
    select source, replication, station_id, unit_id, variant, event, ts
    from stg_events
    where event in ('cycle_start', 'cycle_end') and unit_id is not null
),

-- the n-th start and the n-th end of a unit at a station: both lists sorted, unnested side by side
-- (a grouped list is several times faster than numbering the rows in a window and joining them back)
station_edges as (
    select
        source,
        replication,
        station_id,
        unit_id,
        max(variant) as variant,
        list_sort(list(ts) filter (where event = 'cycle_start')) as starts,
        list_sort(list(ts) filter (where event = 'cycle_end')) as ends
    from events
    group by source, replication, station_id, unit_id
),

paired as (
    select source, replication, station_id, unit_id, variant, unnest(starts) as start_at, unnest(ends) as end_at
    from station_edges
),

cycles as (
    select *, (epoch_us(end_at) - epoch_us(start_at)) / 1e6 as duration_s
    from paired
    where start_at is not null and end_at is not null
),

per_station as (
    select
        source,
        replication,
        unit_id,
        station_id,
        max(variant) as variant,
        min(start_at) as start_at,
        max(end_at) as end_at,
        sum(duration_s) as cycle_s
    from cycles
    group by source, replication, unit_id, station_id
),

-- one sorted list of (station, end, cycle time) per unit, split into the three parallel lists (a sorted list is
-- cheaper than three ordered aggregates)
per_unit_stations as (
    select
        source,
        replication,
        unit_id,
        max(variant) as variant,
        min(start_at) as first_start_at,
        max(end_at) as last_end_at,
        list_sort(list(struct_pack(station_id := station_id, end_at := end_at, cycle_s := cycle_s))) as per_station
    from per_station
    group by source, replication, unit_id
),

per_unit as (
    select
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

quality as (
    select
        source,
        replication,
        unit_id,
        characteristic,
        ts,
        coalesce(
            (lsl is null or value >= lsl)
            and (usl is null or value <= usl)
            and (defect_code is null or defect_code = ''),
            false
        ) as is_conforming
    from stg_quality
    where unit_id is not null
),

-- per characteristic of a unit: its first and its last measurement (a key holds one row per time)
per_characteristic as (
    select
        source,
        replication,
        unit_id,
        characteristic,
        count(*) as n_measurements,
        arg_min(is_conforming, ts) as is_first_conforming,
        max(ts) as last_at,
        arg_max(is_conforming, ts) as is_last_conforming
    from quality
    group by source, replication, unit_id, characteristic
),

per_unit_quality as (
    select
        source,
        replication,
        unit_id,
        sum(n_measurements) as n_measurements,
        bool_and(is_first_conforming) as is_first_pass_good,
        max(n_measurements) > 1 as has_remeasurement,
        max(last_at) as unit_last_at,
        list(struct_pack(last_at := last_at, is_conforming := is_last_conforming)) as lasts
    from per_characteristic
    group by source, replication, unit_id
),

-- good at the end: every measurement taken at the unit's last measurement time conforms
judged as (
    select
        source,
        replication,
        unit_id,
        n_measurements,
        is_first_pass_good,
        has_remeasurement,
        list_bool_and([m.is_conforming for m in lasts if m.last_at = unit_last_at]) as is_last_good
    from per_unit_quality
),

final as (
    select
        u.*,
        coalesce(q.n_measurements, 0) as n_measurements,
        q.is_first_pass_good,
        not q.is_first_pass_good and q.has_remeasurement as is_reworked,
        q.is_first_pass_good or (q.has_remeasurement and q.is_last_good) as is_final_good
    from per_unit as u
    left join judged as q on q.source = u.source and q.replication = u.replication and q.unit_id = u.unit_id
)

select * from final
