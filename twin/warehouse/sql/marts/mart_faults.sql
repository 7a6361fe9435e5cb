-- one row per fault per station per source and replication: a fault_start paired with the station's next fault_end
-- not_null: station_id, source, replication, started_at, is_closed
-- check: ended_at is null or ended_at >= started_at
-- A fault still open (no fault_end yet, or another fault_start first) has ended_at and duration_s null.
with events as (
    select * from stg_events
),

fault_events as (
    select
        station_id,
        source,
        replication,
        code,
        unit_id,
        event,
        ts,
        lead(event) over w as next_event,
        lead(ts) over w as next_ts,
        lead(code) over w as next_code
    from events
    where event in ('fault_start', 'fault_end')
    window w as (
        partition by station_id, source, replication
        order by ts, case when event = 'fault_start' then 0 else 1 end
    )
),

paired as (
    select
        station_id,
        source,
        replication,
        coalesce(code, next_code) as code,
        unit_id,
        ts as started_at,
        case when next_event = 'fault_end' then next_ts end as ended_at
    from fault_events
    where event = 'fault_start'
),

final as (
    select
        *,
        epoch(ended_at - started_at) as duration_s,
        ended_at is not null as is_closed
    from paired
)

select * from final
