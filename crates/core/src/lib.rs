//! Shared building blocks of dyad, used by aggregators, clients and collectors
//! alike: HPKE seal and open with DAP's labels ([`hpke`]), the catalogue of
//! supported VDAFs and the one place that turns a catalogue entry into a
//! concrete `prio` type ([`vdaf`]), and the task model ([`task`]) with its
//! authentication tokens.

pub mod clock;
pub mod hpke;
pub mod retry;
pub mod task;
pub mod vdaf;
