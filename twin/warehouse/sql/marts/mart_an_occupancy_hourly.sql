-- one row per station per variant per UTC hour per cell, source and replication: the station's time in unit cycles within the hour
-- unique: cell_id, source, replication, station_id, variant, hour_at
-- not_null: cell_id, source, replication, station_id, hour_at, busy_s, n_units
-- check: busy_s >= 0
-- busy_s: seconds that station spent in unit cycles of that variant within the hour (each cycle split over the hours it spans), and how many units it cycled.
-- Cycles are mart_cycles' complete ones (the one cycle pairing).
with cycles as (
    select
        cell_id,
        source,
        replication,
        station_id,
        unit_id,
        variant,
        epoch_us(started_at) as start_us,
        epoch_us(ended_at) as end_us
    from mart_cycles
    where is_complete and unit_id is not null and ended_at > started_at
),

hours as (
    select
        *,
        unnest(range((start_us // 3600000000) * 3600000000, end_us, 3600000000)) as hour_us
    from cycles
),

final as (
    select
        cell_id,
        source,
        replication,
        station_id,
        variant,
        to_timestamp(hour_us // 1000000) as hour_at,
        sum(least(end_us, hour_us + 3600000000) - greatest(start_us, hour_us)) / 1e6 as busy_s,
        count(distinct unit_id) as n_units
    from hours
    group by cell_id, source, replication, station_id, variant, hour_us
)

select * from final
