-- one row per fault or setup interval per station per cell, source and replication, and per end event that closed nothing
-- columns: cell_id varchar, source varchar, replication bigint, station_id varchar, kind varchar, code varchar, unit_id varchar, start_at timestamptz
-- columns: end_at timestamptz, pairing varchar, duration_s double
-- not_null: cell_id, source, replication, station_id, kind, pairing
-- check: pairing in ('closed', 'open', 'unmatched_end')
-- check: (pairing = 'closed') = (start_at is not null and end_at is not null)
-- check: (pairing = 'open') = (end_at is null)
-- check: (pairing = 'unmatched_end') = (start_at is null)
-- check: end_at is null or start_at is null or end_at >= start_at
-- The one pairing of fault_start/fault_end and setup_start/setup_end (kind fault or setup), per cell, source, replication,
-- station and kind, by time (timestamps are UTC):
-- - a start is closed by the first end at or after it: an end returns the station to running, so faults that
--   overlap on one station (a second start before the end) all end at that end (pairing closed);
-- - a start with no end after it is still open (pairing open, end_at null; the analytics run it to the end of the
--   period);
-- - an end with no start since the previous end (the data began mid-stop, or a start was lost) closes nothing: it
--   is kept as pairing unmatched_end with start_at null, so it is reported, never silently dropped.
-- code and unit_id are the start's, else the end's.
with events as (
    select
        cell_id,
        source,
        replication,
        station_id,
        ts,
        code,
        unit_id,
        case when event like 'fault%' then 'fault' else 'setup' end as kind,
        case when event like '%start' then 'start' else 'end' end as edge
    from stg_events
    where event in ('fault_start', 'fault_end', 'setup_start', 'setup_end')
),

ordered as (
    select
        *,
        first_value(case when edge = 'end' then ts end ignore nulls) over following as next_end_at,
        first_value(case when edge = 'end' then code end ignore nulls) over following as next_end_code,
        lag(edge) over preceding as prev_edge
    from events
    window
        following as (
            partition by cell_id, source, replication, station_id, kind order by ts, edge desc
            rows between current row and unbounded following
        ),
        preceding as (partition by cell_id, source, replication, station_id, kind order by ts, edge desc)
),

intervals as (
    select
        cell_id,
        source,
        replication,
        station_id,
        kind,
        coalesce(code, next_end_code) as code,
        unit_id,
        ts as start_at,
        next_end_at as end_at,
        case when next_end_at is null then 'open' else 'closed' end as pairing
    from ordered
    where edge = 'start'
),

unmatched_ends as (
    select
        cell_id,
        source,
        replication,
        station_id,
        kind,
        code,
        unit_id,
        null::timestamptz as start_at,
        ts as end_at,
        'unmatched_end' as pairing
    from ordered
    where edge = 'end' and coalesce(prev_edge, 'end') = 'end'
),

final as (
    select
        *,
        epoch_us(end_at) / 1e6 - epoch_us(start_at) / 1e6 as duration_s
    from (select * from intervals union all select * from unmatched_ends)
)

select * from final
