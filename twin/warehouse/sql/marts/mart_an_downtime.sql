-- one row per fault or setup interval per station per source and replication
-- not_null: source, replication, station_id, kind, start_at
-- check: end_at is null or end_at >= start_at
-- The n-th *_start is paired with the n-th *_end of the same station and kind; an interval still open has a null end_at. Timestamps are UTC.
with events as (
    select
        source,
        replication,
        station_id,
        ts,
        code,
        case when event like 'fault%' then 'fault' else 'setup' end as kind,
        case when event like '%start' then 'start' else 'end' end as edge
    from stg_events
    where event in ('fault_start', 'fault_end', 'setup_start', 'setup_end')
),

numbered as (
    select
        *,
        row_number() over (partition by source, replication, station_id, kind, edge order by ts) as n_stop
    from events
),

starts as (select * from numbered where edge = 'start'),

ends as (select * from numbered where edge = 'end'),

final as (
    select
        s.source,
        s.replication,
        s.station_id,
        s.kind,
        coalesce(s.code, e.code) as code,
        s.ts as start_at,
        e.ts as end_at,
        epoch_us(e.ts) / 1e6 - epoch_us(s.ts) / 1e6 as duration_s
    from starts as s
    left join ends as e
        on s.source = e.source
        and s.replication = e.replication
        and s.station_id = e.station_id
        and s.kind = e.kind
        and s.n_stop = e.n_stop
)

select * from final
