-- one row per joint-state sample per robot per cell, source and replication (accepted rows of raw_joint_states)
-- (key uniqueness is guaranteed by the ingest and not re-checked here: the table is large)
-- ts is UTC; q_k in rad (m for prismatic joints), qd_k rad/s, tau_k N·m, i_k A, power_w W; joints in URDF order
with source_rows as (
    select * from raw_joint_states
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
