//! Strategies for the taskprov-06 structures of [`crate::taskprov`].

use super::bytes::bytes;
use super::draft09::{duration, time, url};
use crate::taskprov::*;
use proptest::prelude::*;

pub fn dp_mechanism() -> impl Strategy<Value = DpMechanism> + Clone {
    prop_oneof![
        Just(DpMechanism::None),
        (any::<u8>().prop_filter("unnamed", |c| *c != 1), bytes(0, 8))
            .prop_map(|(code, data)| DpMechanism::Other { code, data })
    ]
}

pub fn dp_config() -> impl Strategy<Value = DpConfig> + Clone {
    dp_mechanism().prop_map(DpConfig::new)
}

/// The VDAF types taskprov-06 names.
pub fn named_vdaf_type() -> impl Strategy<Value = VdafType> + Clone {
    prop_oneof![
        Just(VdafType::Prio3Count),
        any::<u8>().prop_map(|bits| VdafType::Prio3Sum { bits }),
        (any::<u32>(), any::<u8>(), any::<u32>()).prop_map(|(length, bits, chunk_length)| {
            VdafType::Prio3SumVec {
                length,
                bits,
                chunk_length,
            }
        }),
        (any::<u32>(), any::<u32>()).prop_map(|(length, chunk_length)| {
            VdafType::Prio3Histogram {
                length,
                chunk_length,
            }
        }),
        any::<u16>().prop_map(|bits| VdafType::Poplar1 { bits }),
    ]
}

pub fn vdaf_type() -> impl Strategy<Value = VdafType> + Clone {
    prop_oneof![
        4 => named_vdaf_type(),
        1 => (
            any::<u32>().prop_filter("unnamed", |c| !matches!(
                *c,
                VdafType::PRIO3_COUNT
                    | VdafType::PRIO3_SUM
                    | VdafType::PRIO3_SUM_VEC
                    | VdafType::PRIO3_HISTOGRAM
                    | VdafType::POPLAR1
            )),
            bytes(0, 12)
        )
            .prop_map(|(code, data)| VdafType::Other { code, data }),
    ]
}

pub fn vdaf_config() -> impl Strategy<Value = VdafConfig> + Clone {
    (dp_config(), vdaf_type()).prop_map(|(d, v)| VdafConfig::new(d, v))
}

pub fn query_type_config() -> impl Strategy<Value = QueryTypeConfig> + Clone {
    prop_oneof![
        Just(QueryTypeConfig::TimeInterval),
        any::<u32>().prop_map(|max_batch_size| QueryTypeConfig::FixedSize { max_batch_size }),
        (
            any::<u8>().prop_filter("unnamed", |c| !matches!(*c, 1 | 2)),
            bytes(0, 8)
        )
            .prop_map(|(code, data)| QueryTypeConfig::Other { code, data }),
    ]
}

pub fn query_config() -> impl Strategy<Value = QueryConfig> + Clone {
    (duration(), any::<u16>(), any::<u32>(), query_type_config()).prop_map(
        |(time_precision, max_batch_query_count, min_batch_size, query)| QueryConfig {
            time_precision,
            max_batch_query_count,
            min_batch_size,
            query,
        },
    )
}

pub fn task_config() -> impl Strategy<Value = TaskConfig> + Clone {
    (
        bytes(1, 32),
        url(),
        url(),
        query_config(),
        time(),
        vdaf_config(),
    )
        .prop_map(
            |(
                task_info,
                leader_aggregator_endpoint,
                helper_aggregator_endpoint,
                query_config,
                task_expiration,
                vdaf_config,
            )| TaskConfig {
                task_info,
                leader_aggregator_endpoint,
                helper_aggregator_endpoint,
                query_config,
                task_expiration,
                vdaf_config,
            },
        )
}
