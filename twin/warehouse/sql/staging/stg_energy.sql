-- one row per meter reading per cell, source and replication (accepted rows of raw_energy)
-- unique: cell_id, source, replication, meter_id, ts
-- energy_kwh is the cumulative register (kWh), power_w the instantaneous power (W)
with source_rows as (
    select * from raw_energy
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
