-- one row per event per station per cell, source and replication (accepted rows of raw_events)
-- ts is UTC; event is one of cycle_start, cycle_end, fault_start, fault_end, setup_*, break_*
with source_rows as (
    select * from raw_events
),

files as (
    select file_id, run_id, loaded_at from ingest_files
),

final as (
    select
        source_rows.*,
        files.run_id,
        files.loaded_at
    from source_rows
    left join files on files.file_id = source_rows.file_id
)

select * from final
