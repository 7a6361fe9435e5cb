-- one row per grid-intensity interval per region per cell, source and replication (accepted rows of raw_grid_intensity)
-- unique: cell_id, source, replication, region, ts
-- ts is the interval start (UTC); interval_min defaults to 60 (SPEC.md); interval_end_at is derived
with source_rows as (
    select * from raw_grid_intensity
),

files as (
    select file_id, run_id, loaded_at from ingest_files
),

final as (
    select
        source_rows.* replace (coalesce(source_rows.interval_min, 60) as interval_min),
        source_rows.ts + to_minutes(coalesce(source_rows.interval_min, 60)) as interval_end_at,
        files.run_id,
        files.loaded_at
    from source_rows
    left join files on files.file_id = source_rows.file_id
)

select * from final
