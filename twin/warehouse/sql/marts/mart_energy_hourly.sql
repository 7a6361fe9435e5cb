-- one row per meter per cell, source and replication per UTC hour: the energy (kWh) the meter recorded in that hour
-- unique: meter_id, cell_id, source, replication, hour_at
-- not_null: meter_id, cell_id, source, replication, hour_at, energy_kwh, method
-- check: energy_kwh >= 0
-- Each interval of mart_energy_intervals is spread over the UTC hours it spans in proportion to time. n_resets
-- counts the resets and rollovers whose reading falls in the hour.
with intervals as (
    select * from mart_energy_intervals
),

hours as (
    select
        *,
        unnest(range(date_trunc('hour', start_at), end_at, interval 1 hour)) as hour_at
    from intervals
),

shares as (
    select
        meter_id,
        cell_id,
        source,
        replication,
        hour_at,
        method,
        energy_kwh
        * epoch(least(end_at, hour_at + interval 1 hour) - greatest(start_at, hour_at))
        / epoch(end_at - start_at) as energy_kwh,
        reading_kind in ('reset', 'rollover') and end_at > hour_at and end_at <= hour_at + interval 1 hour
            as is_reset_here
    from hours
),

final as (
    select
        meter_id,
        cell_id,
        source,
        replication,
        hour_at,
        sum(energy_kwh) as energy_kwh,
        count(*) as n_intervals,
        count(*) filter (where is_reset_here) as n_resets,
        min(method) as method
    from shares
    group by meter_id, cell_id, source, replication, hour_at
)

select * from final
