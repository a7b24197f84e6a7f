-- Taskprov (draft-wang-ppm-dap-taskprov-06).
--
-- The encoded TaskConfig of a task provisioned by taskprov (its SHA-256 is
-- the task ID; public: clients and aggregators send it in the dap-taskprov
-- header). NULL for a task provisioned ahead of time.
ALTER TABLE tasks ADD COLUMN taskprov_config BLOB;

-- The other aggregator of the tasks this aggregator accepts by
-- advertisement, one per (endpoint, role). peer_key is the role's code
-- followed by the endpoint's bytes (the row key the document is sealed
-- for, compared bytewise on both backends); peer_document holds every
-- parameter of the peer, its secrets (verify_key_init, tokens) included,
-- sealed under the datastore keys.
CREATE TABLE taskprov_peer_aggregators (
    peer_key BLOB PRIMARY KEY,
    endpoint TEXT NOT NULL,
    -- The peer's role: 2 leader, 3 helper (DAP-09's Role codes).
    role INTEGER NOT NULL,
    peer_document BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
