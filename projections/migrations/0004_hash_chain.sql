-- The hash chain over the event log (projections/chain.py, docs/backups.md): one link per
-- event, h_n = sha256(h_{n-1} || the event's row), and seals at intervals and at every
-- backup, signed with the deployment's Ed25519 key. Written by the chain projection in the
-- same transaction as its position in tieout_chain_tracking. Every statement is idempotent.
CREATE TABLE IF NOT EXISTS tieout_chain (
    notification_id bigint PRIMARY KEY,
    ordinal         bigint NOT NULL UNIQUE,  -- 1 for the first event chained, 2 ...
    hash            bytea  NOT NULL
);

CREATE TABLE IF NOT EXISTS tieout_chain_seals (
    notification_id bigint PRIMARY KEY,
    ordinal         bigint      NOT NULL,
    hash            bytea       NOT NULL,
    sealed_at       timestamptz NOT NULL DEFAULT now(),
    key_id          text        NOT NULL,
    public_key      text        NOT NULL,
    signature       bytea       NOT NULL
);
