-- one row per measurement of a characteristic of a unit per cell, source and replication (accepted rows of raw_quality)
-- unique: cell_id, source, replication, unit_id, characteristic, ts
-- value, lsl and usl are in the characteristic's unit (its name's suffix: _nm, _mm, _deg)
with source_rows as (
    select * from raw_quality
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
