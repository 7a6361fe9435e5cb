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

per_unit as (
    select
        source,
        replication,
        unit_id,
        max(variant) as variant,
        min(start_at) as first_start_at,
        max(end_at) as last_end_at,
        list(station_id order by station_id) as stations,
        list(end_at order by station_id) as station_end_at,
        list(cycle_s order by station_id) as station_cycle_s
    from per_station
    group by source, replication, unit_id
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

ranked as (
    select
        *,
        row_number() over (partition by source, replication, unit_id, characteristic order by ts) as n_pass,
        max(ts) over (partition by source, replication, unit_id) as unit_last_at
    from quality
),

judged as (
    select
        source,
        replication,
        unit_id,
        count(*) as n_measurements,
        bool_and(is_conforming) filter (where n_pass = 1) as is_first_pass_good,
        max(n_pass) > 1 as has_remeasurement,
        bool_and(is_conforming) filter (where ts = unit_last_at) as is_last_good
    from ranked
    group by source, replication, unit_id
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
