-- one row per station per variant per UTC hour per source and replication: the station's time in unit cycles within the hour
-- unique: source, replication, station_id, variant, hour_at
-- not_null: source, replication, station_id, hour_at, busy_s, n_units
-- check: busy_s >= 0
-- busy_s: seconds that station spent in unit cycles of that variant within the hour (each cycle split over the hours it spans), and how many units it cycled.
-- Pairing as in mart_an_units: the n-th cycle_start with the n-th cycle_end of a unit at a station.
with events as (
    select source, replication, station_id, unit_id, variant, event, epoch_us(ts) as ts_us
    from stg_events
    where event in ('cycle_start', 'cycle_end') and unit_id is not null
),

-- the n-th start and the n-th end of a unit at a station: both lists sorted, unnested side by side
station_edges as (
    select
        source,
        replication,
        station_id,
        unit_id,
        max(variant) as variant,
        list_sort(list(ts_us) filter (where event = 'cycle_start')) as starts,
        list_sort(list(ts_us) filter (where event = 'cycle_end')) as ends
    from events
    group by source, replication, station_id, unit_id
),

paired as (
    select source, replication, station_id, unit_id, variant, unnest(starts) as start_us, unnest(ends) as end_us
    from station_edges
),

cycles as (
    select * from paired
    where end_us > start_us
),

hours as (
    select
        *,
        unnest(range((start_us // 3600000000) * 3600000000, end_us, 3600000000)) as hour_us
    from cycles
),

final as (
    select
        source,
        replication,
        station_id,
        variant,
        to_timestamp(hour_us // 1000000) as hour_at,
        sum(least(end_us, hour_us + 3600000000) - greatest(start_us, hour_us)) / 1e6 as busy_s,
        count(distinct unit_id) as n_units
    from hours
    group by source, replication, station_id, variant, hour_us
)

select * from final
