-- 004: after the ticket (SPEC §6: tracking authentication, callback tokens)
-- and who holds a claimed row. Every change is an ADD COLUMN or a new
-- table/index: nothing is rebuilt, so the triggers, indexes and views other
-- systems keep on the public companies table survive this migration.

-- What the vendor says of the company's authentication. NULL until known.
ALTER TABLE companies ADD COLUMN auth_status TEXT
    CHECK (auth_status IS NULL OR auth_status = 'not_started'
           OR auth_status = 'in_progress' OR auth_status = 'authenticated'
           OR auth_status = 'rejected' OR auth_status = 'expired');
ALTER TABLE companies ADD COLUMN auth_reason TEXT;      -- basicReason of a rejection
ALTER TABLE companies ADD COLUMN auth_request_id TEXT;  -- the vendor's requestId
ALTER TABLE companies ADD COLUMN auth_checked_at INTEGER; -- last observation, Unix ms
ALTER TABLE companies ADD COLUMN auth_changed_at INTEGER; -- auth_status last changed
-- The tracking schedule: when the next poll is due (NULL: nothing to poll)
-- and how many polls were made since the ticket (the backoff step).
ALTER TABLE companies ADD COLUMN auth_next_check_at INTEGER;
ALTER TABLE companies ADD COLUMN auth_checks INTEGER NOT NULL DEFAULT 0;
-- The secret last segment of the callback URL `run --callback-base` gives
-- this company (URL-safe, 128 random bits).
ALTER TABLE companies ADD COLUMN callback_token TEXT;
-- The run (runs.id) that claimed an in_flight row, and until when (Unix ms)
-- that claim holds.
ALTER TABLE companies ADD COLUMN claimed_by INTEGER;
ALTER TABLE companies ADD COLUMN lease_until INTEGER;

-- Polls that are due, without scanning finished companies.
CREATE INDEX companies_track_due ON companies (auth_next_check_at)
    WHERE auth_next_check_at IS NOT NULL;
-- Funnel counts from an index; NULL (not yet known) is total minus the rest,
-- so importing a million pending rows costs this index nothing.
CREATE INDEX companies_auth_status ON companies (auth_status)
    WHERE auth_status IS NOT NULL;

-- Every observation of a company's authentication, poll answer or callback,
-- kept as received so a report can show how a company got where it is.
CREATE TABLE auth_events (
    id           INTEGER PRIMARY KEY,
    company_id   INTEGER NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    source       TEXT NOT NULL CHECK (source = 'poll' OR source = 'callback'),
    raw_status   TEXT,              -- the vendor's status value, as received
    auth_status  TEXT,              -- what it maps to; NULL when unknown
    applied      INTEGER NOT NULL DEFAULT 0, -- 1: it changed companies.auth_status
    request_id   TEXT,
    reason       TEXT,
    fields       TEXT,              -- the other fields received, as JSON
    dedupe_key   TEXT,              -- identical deliveries share it
    run_id       INTEGER REFERENCES runs (id),
    observed_at  INTEGER NOT NULL   -- Unix ms
);
CREATE INDEX auth_events_company ON auth_events (company_id, observed_at);
CREATE UNIQUE INDEX auth_events_dedupe ON auth_events (company_id, dedupe_key)
    WHERE dedupe_key IS NOT NULL;

-- Which command a runs row belongs to ('run' when NULL: rows from before),
-- and the status polls it made.
ALTER TABLE runs ADD COLUMN command TEXT;
ALTER TABLE runs ADD COLUMN polls INTEGER NOT NULL DEFAULT 0;
