-- 002: a row per run of `authbatch run` and per request attempt.

CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER,
    pid             INTEGER NOT NULL,
    options         TEXT,            -- JSON of the run options, no secrets
    attempts        INTEGER NOT NULL DEFAULT 0,
    issued          INTEGER NOT NULL DEFAULT 0,
    already_authed  INTEGER NOT NULL DEFAULT 0,
    failed          INTEGER NOT NULL DEFAULT 0,
    retried         INTEGER NOT NULL DEFAULT 0,
    throttled       INTEGER NOT NULL DEFAULT 0,
    transport_errors INTEGER NOT NULL DEFAULT 0,
    exit_status     INTEGER
);

CREATE TABLE attempts (
    id              INTEGER PRIMARY KEY,
    company_id      INTEGER NOT NULL REFERENCES companies (id) ON DELETE CASCADE,
    run_id          INTEGER REFERENCES runs (id),
    attempt_no      INTEGER NOT NULL,
    started_at      INTEGER NOT NULL,   -- Unix ms
    duration_ms     INTEGER NOT NULL,
    http_status     INTEGER,            -- NULL when no HTTP answer arrived
    code            INTEGER,            -- the vendor's `code`, when parsed
    message         TEXT,
    transport_error TEXT,
    outcome         TEXT NOT NULL
                    CHECK (outcome IN ('issued', 'already_authed', 'rejected',
                                       'throttled', 'transient', 'fatal'))
);

CREATE INDEX attempts_company ON attempts (company_id);
CREATE INDEX attempts_run ON attempts (run_id, started_at);
