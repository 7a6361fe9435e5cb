-- one row per station per variant per UTC hour per source: the station's time in unit cycles within the hour
-- unique: source, station_id, variant, hour_at
-- not_null: source, station_id, hour_at, busy_s, n_units
-- check: busy_s >= 0
-- busy_s: seconds that station spent in unit cycles of that variant within the hour (each cycle split over the hours it spans), and how many units it cycled.
-- Pairing as in mart_an_units: the n-th cycle_start with the n-th cycle_end of a unit at a station.
with events as (
    select source, station_id, unit_id, variant, event, epoch_us(ts) as ts_us
    from stg_events
    where event in ('cycle_start', 'cycle_end') and unit_id is not null
),

numbered as (
    select
        *,
        row_number() over (partition by source, station_id, unit_id, event order by ts_us) as n_cycle
    from events
),

cycles as (
    select
        s.source,
        s.station_id,
        s.unit_id,
        coalesce(s.variant, e.variant) as variant,
        s.ts_us as start_us,
        e.ts_us as end_us
    from numbered as s
    inner join numbered as e
        on s.source = e.source
        and s.station_id = e.station_id
        and s.unit_id = e.unit_id
        and s.n_cycle = e.n_cycle
        and e.event = 'cycle_end'
    where s.event = 'cycle_start' and e.ts_us > s.ts_us
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
        station_id,
        variant,
        to_timestamp(hour_us // 1000000) as hour_at,
        sum(least(end_us, hour_us + 3600000000) - greatest(start_us, hour_us)) / 1e6 as busy_s,
        count(distinct unit_id) as n_units
    from hours
    group by source, station_id, variant, hour_us
)

select * from final
