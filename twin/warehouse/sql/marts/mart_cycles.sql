-- one row per cycle per station per cell, source and replication: a unit's cycle_start at a station (or robot) paired with its cycle_end
-- not_null: station_id, cell_id, source, replication, started_at, is_complete
-- check: ended_at is null or ended_at >= started_at
-- check: is_complete = (ended_at is not null)
-- Pairs are formed per station, unit, source and replication in time order; a start without its end (the end not
-- logged yet, or a second start) is an incomplete cycle with ended_at and duration_s null.
with events as (
    select * from stg_events
),

cycle_events as (
    select
        station_id,
        cell_id,
        source,
        replication,
        unit_id,
        variant,
        event,
        ts,
        lead(event) over w as next_event,
        lead(ts) over w as next_ts,
        lead(variant) over w as next_variant
    from events
    where event in ('cycle_start', 'cycle_end')
    window w as (
        partition by station_id, cell_id, source, replication, unit_id
        order by ts, case when event = 'cycle_start' then 0 else 1 end
    )
),

paired as (
    select
        station_id,
        unit_id,
        coalesce(variant, next_variant) as variant,
        cell_id,
        source,
        replication,
        ts as started_at,
        case when next_event = 'cycle_end' then next_ts end as ended_at
    from cycle_events
    where event = 'cycle_start'
),

final as (
    select
        *,
        epoch(ended_at - started_at) as duration_s,
        ended_at is not null as is_complete
    from paired
)

select * from final
