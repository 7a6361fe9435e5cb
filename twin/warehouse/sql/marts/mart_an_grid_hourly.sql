-- one row per region per UTC hour per cell, source and replication: the grid intensity of the hour
-- unique: cell_id, source, replication, region, hour_at
-- not_null: cell_id, source, replication, region, hour_at, gco2e_per_kwh, coverage
-- Time-weighted over the intervals (interval_min, default 60) that cover it, with the share of the hour covered.
with grid as (
    select
        cell_id,
        source,
        replication,
        region,
        gco2e_per_kwh,
        epoch_us(ts) as start_us,
        epoch_us(ts) + coalesce(interval_min, 60)::bigint * 60000000 as end_us
    from stg_grid_intensity
    where gco2e_per_kwh is not null
),

hours as (
    select
        *,
        unnest(range((start_us // 3600000000) * 3600000000, end_us, 3600000000)) as hour_us
    from grid
),

covered as (
    select
        *,
        least(end_us, hour_us + 3600000000) - greatest(start_us, hour_us) as overlap_us
    from hours
),

final as (
    select
        cell_id,
        source,
        replication,
        region,
        to_timestamp(hour_us // 1000000) as hour_at,
        sum(gco2e_per_kwh * overlap_us) / sum(overlap_us) as gco2e_per_kwh,
        least(sum(overlap_us) / 3600000000.0, 1.0) as coverage
    from covered
    where overlap_us > 0
    group by cell_id, source, replication, region, hour_us
)

select * from final
