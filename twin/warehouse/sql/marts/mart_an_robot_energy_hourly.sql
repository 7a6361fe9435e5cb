-- one row per robot per program step per UTC hour per cell, source and replication: electrical energy integrated from joint-state power
-- unique: cell_id, source, replication, robot_id, program_step, hour_at
-- not_null: cell_id, source, replication, robot_id, hour_at, n_samples, logged_s, kwh
-- check: logged_s >= 0
-- Each power_w sample is held until the robot's next sample, for at most 16 ms (two periods of the 125 Hz
-- controller): joint states are logged in windows, and the time between windows is not a step's energy.
with samples as (
    select cell_id, source, replication, robot_id, program_step, epoch_us(ts) as ts_us, power_w
    from stg_joint_states
    where power_w is not null
),

gaps as (
    select
        *,
        lead(ts_us) over (partition by cell_id, source, replication, robot_id order by ts_us) - ts_us as gap_us
    from samples
),

held as (
    select
        *,
        least(gap_us, 16000) as dt_us
    from gaps
    where gap_us is not null  -- the robot's last sample: no next sample, nothing to hold
),

final as (
    select
        cell_id,
        source,
        replication,
        robot_id,
        program_step,
        to_timestamp((ts_us // 3600000000) * 3600) as hour_at,
        count(*) as n_samples,
        sum(dt_us) / 1e6 as logged_s,
        sum(power_w * dt_us) / 3.6e12 as kwh,
        max(power_w) as peak_power_w
    from held
    group by cell_id, source, replication, robot_id, program_step, ts_us // 3600000000
)

select * from final
