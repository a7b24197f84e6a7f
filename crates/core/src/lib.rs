//! Shared building blocks of dyad: HPKE seal and open with DAP labels, the VDAF catalogue, the task model.
