-- one row per quality measurement per cell, source and replication, with its characteristic family, first-pass flag and conformity
-- unique: cell_id, source, replication, unit_id, characteristic, measured_at
-- not_null: cell_id, source, replication, unit_id, measured_at, characteristic, family, is_first_pass, is_conforming
-- check: is_conforming or defect is not null
-- family: the characteristic without its per-item index (screw_3_torque_nm -> screw_torque_nm). First pass: the
-- first measurement of the characteristic on the unit. A measurement conforms when lsl <= value <= usl (a missing
-- limit does not bind) and it has no defect code; a nonconforming one is labelled by its defect code, or
-- <CHARACTERISTIC>_OUT when it has none.
with quality as (
    select cell_id, source, replication, unit_id, station_id, characteristic, ts, value, lsl, usl, nullif(defect_code, '') as defect_code
    from stg_quality
    where unit_id is not null
),

judged as (
    select
        *,
        coalesce(
            (lsl is null or value >= lsl) and (usl is null or value <= usl) and defect_code is null, false
        ) as is_conforming
    from quality
),

final as (
    select
        cell_id,
        source,
        replication,
        unit_id,
        station_id,
        ts as measured_at,
        characteristic,
        regexp_replace(characteristic, '_[0-9]+_', '_') as family,
        value,
        lsl,
        usl,
        row_number() over (partition by cell_id, source, replication, unit_id, characteristic order by ts) = 1 as is_first_pass,
        is_conforming,
        case when not is_conforming then coalesce(defect_code, upper(characteristic) || '_OUT') end as defect
    from judged
)

select * from final
