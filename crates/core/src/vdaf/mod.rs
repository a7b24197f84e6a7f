//! The VDAF catalogue: every VDAF dyad supports, its JSON form, and the single dispatch point to concrete `prio` types.
