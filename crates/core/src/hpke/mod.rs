//! HPKE (RFC 9180) as DAP-09 uses it: key generation, and seal/open with the application info strings and AAD structures of DAP-09 sections 4.4.2, 4.5.1.3 and 4.7.5.
